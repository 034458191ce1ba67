#!/usr/bin/env bash
# leaktop with 1, 8 and 32 traced processes (-p PID,PID,...): each a
# leak_rate target (10 KiB every 100 ms, a 10 MiB block).  For each count:
# attach time (leaktop's start to its first report, less one interval),
# leaktop's RSS once the reports run, its CPU share over MEASURE_SECONDS, and
# the kernel memory its maps hold.  Usage: sudo bench/processes.sh
#   (COUNTS="1 8 32" MEASURE_SECONDS=10; LEAKTOP=path: another build, e.g.
#   the one before a change, measured under the same conditions)
set -euo pipefail
cd "$(dirname "$0")/.."
make -s leaktop build/targets/leak_rate
leaktop_bin=${LEAKTOP:-./leaktop}
counts=${COUNTS:-1 8 32}
measure=${MEASURE_SECONDS:-10}
dir=$(mktemp -d)
targets=()
leaktop=
cleanup() {
  [[ -n $leaktop ]] && kill "$leaktop" 2>/dev/null && wait "$leaktop" 2>/dev/null
  for pid in "${targets[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
now() { date +%s.%N; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
printf '%-10s %12s %12s %10s %16s\n' processes attach_s rss_MiB cpu_% kernel_maps_MiB
for n in $counts; do
  targets=()
  for ((i = 0; i < n; i++)); do
    build/targets/leak_rate > /dev/null & targets+=($!)
  done
  list=$(IFS=,; echo "${targets[*]}")
  : > "$dir/out"
  t0=$(now)
  "$leaktop_bin" -p "$list" --json -i 1 > "$dir/out" 2> "$dir/err" & leaktop=$!
  until [[ -s $dir/out ]]; do
    kill -0 "$leaktop" 2>/dev/null || { cat "$dir/err"; exit 1; }
    sleep 0.05
  done
  attach=$(echo "$(now) - $t0 - 1" | bc)
  sleep 3
  c0=$(ticks "$leaktop"); w0=$(now)
  sleep "$measure"
  c1=$(ticks "$leaktop"); w1=$(now)
  rss=$(awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$leaktop/status")
  cpu=$(echo "scale=2; ($c1 - $c0) * 100 / $hz / ($w1 - $w0)" | bc)
  # Kernel memory of leaktop's maps, each counted once (shared ones too).
  maps=$(for fd in /proc/$leaktop/fdinfo/*; do awk '/^map_id:/ {id = $2} /^memlock:/ {m = $2}
         END {if (id) print id, m}' "$fd" 2>/dev/null; done | sort -u | awk '{s += $2} END {printf "%.0f", s / 1048576}')
  printf '%-10s %12.2f %12s %10s %16s\n' "$n" "$attach" "$rss" "$cpu" "$maps"
  kill "$leaktop"; wait "$leaktop" 2>/dev/null || true; leaktop=
  for pid in "${targets[@]}"; do kill "$pid" 2>/dev/null || true; done
done
