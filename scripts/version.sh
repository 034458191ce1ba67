#!/bin/sh
# Prints leaktop's version.  In a git checkout: `git describe` of the last
# release tag (v0.2.0-5-gabc1234 -> 0.2.0-5-gabc1234), or, before the first
# tag, the VERSION file's release plus the commit (0.1.0+gabc1234).  Without
# git (a release tarball): the VERSION file alone.  "-dirty": uncommitted
# changes.
cd "$(dirname "$0")/.." || exit 1
base=$(cat VERSION 2>/dev/null) || base=unknown
# Only this tree's own repository counts, not one it was unpacked inside.
if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
	if tag=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		echo "${tag#v}"
		exit 0
	fi
	if commit=$(git describe --always --dirty 2>/dev/null); then
		echo "$base+g$commit"
		exit 0
	fi
fi
echo "$base"
