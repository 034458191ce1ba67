#!/usr/bin/env bash
# Install leaktop's build and test dependencies from Debian 12 packages.
# Idempotent: prints nothing and changes nothing when everything is present.
set -euo pipefail

packages=(
  make clang llvm gcc g++ pkg-config
  libbpf-dev bpftool
  libelf-dev libdw-dev zlib1g-dev
  libjson-c-dev libncurses-dev libcapstone-dev
  # --pprof: protobuf-c and pprof's own profile.proto, compiled at build time
  libprotobuf-c-dev protobuf-c-compiler golang-github-google-pprof-dev
  libcap2-bin procps python3 python3-pytest
  python3-pytest-xdist  # make test runs the suite on several workers
  # tests only: real exporters and servers, started by the suite on loopback
  prometheus prometheus-node-exporter curl tmux
  libjemalloc-dev libgoogle-perftools-dev redis-server redis-tools
  gdb  # its backtraces check the kernel unwinder's stacks (tests/test_e2e_unwind.py)
  python3-tornado
  golang-go protobuf-compiler  # tests: go tool pprof and protoc --decode read --pprof's file
  gunicorn  # tests: a prefork WSGI server with forked workers (tests/test_e2e_processes.py)
  strace  # tests: what leaktop asks of the kernel (usage errors load nothing; maps reads)
  libc6-dbg  # build-id debug files: the symbolizer's file:line for libc (tests/unit/test_symbolizer.c)
  # make deb (dpkg-shlibdeps, dpkg-gencontrol, strip); the man page's tests
  # (man, groff, col); the version (git describe)
  dpkg-dev binutils man-db groff-base bsdextrautils git
  xxd  # the HTML report's script and style sheet, compiled in
  chromium  # tests: a real browser loads the --html report (headless, offline)
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "leaktop: missing packages: ${missing[*]}; run as root: sudo $0" >&2
  exit 1
fi
echo "leaktop: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Packages with daemons (prometheus, node_exporter) must not start them here:
# the tests start their own on loopback.
policy=/usr/sbin/policy-rc.d
added_policy=
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=1
fi
trap 'if [[ -n $added_policy ]]; then rm -f "$policy"; fi' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
