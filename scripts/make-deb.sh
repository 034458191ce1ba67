#!/usr/bin/env bash
# Builds the Debian package of leaktop (make deb) with dpkg's own tools: a
# staged `make install PREFIX=/usr`, dpkg-shlibdeps for the Depends on the
# shared libraries the binary links, dpkg-gencontrol for DEBIAN/control and
# dpkg-deb for the archive.  Prints the package's path.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
out=$build/deb
# Laid out as dpkg's tools expect: debian/control beside debian/PACKAGE, the
# package's root (dpkg-shlibdeps reads the former, with no option for another
# path, and wants the binaries in the latter).
src=$out/src
stage=$src/debian/leaktop

# Debian's version: the build's, with its hyphens made '+' (a hyphen would
# start a Debian revision): 0.2.0-5-gabc1234 -> 0.2.0+5+gabc1234.
version=$(scripts/version.sh | tr - +)
maintainer=$(sed -n 's/^Maintainer: //p' packaging/control)

rm -rf "$out"
mkdir -p "$stage"
${MAKE:-make} -s install DESTDIR="$stage" PREFIX=/usr BUILD="$build" >/dev/null

# What Debian's helpers would do: strip the binary, compress the man page,
# add the package's changelog.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/sbin/leaktop"
gzip -9n "$stage/usr/share/man/man8/leaktop.8"
cat > "$src/debian/changelog" <<CHANGELOG
leaktop ($version) unstable; urgency=medium

  * Built from leaktop $(scripts/version.sh).

 -- $maintainer  $(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
CHANGELOG
gzip -9nc "$src/debian/changelog" > "$stage/usr/share/doc/leaktop/changelog.Debian.gz"

# Depends from the libraries the binary needs, then the control file.
mkdir -p "$stage/DEBIAN"
cp packaging/control "$src/debian/control"
(
	cd "$src"
	dpkg-shlibdeps -edebian/leaktop/usr/sbin/leaktop
	dpkg-gencontrol -pleaktop -Pdebian/leaktop -v"$version"
)
deb=$out/leaktop_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
