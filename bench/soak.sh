#!/usr/bin/env bash
# Soak: leaktop attached for SOAK_SECONDS (default 1800) to a service whose
# call paths keep changing (tests/targets/turnover: 2^20 distinct stacks,
# 2000 new paths a second, 300 blocks live; all 2^20 are made over a 30-min
# run), with a leak on a stack of its own from a third of the run.  Prints
# leaktop's RSS and CPU at the start and at the end, the kernel maps' memory
# and the lost events then, and whether the late leak is shown at the end.
# Its RSS must stay flat.  Usage: sudo bench/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${SOAK_SECONDS:-1800}}
make -s leaktop build/targets/turnover >/dev/null
dir=$(mktemp -d)

build/targets/turnover --bits 20 --paths-per-s 2000 --leak-after $((seconds / 3)) > "$dir/target.out" &
target=$!
./leaktop -p "$target" -i 1 --quiet --prom-file "$dir/leaktop.prom" 2> "$dir/leaktop.err" &
leaktop=$!
trap 'kill "$leaktop" "$target" 2>/dev/null || true; rm -rf "$dir"' EXIT

sample() { # rss_kib cpu_seconds
  local rss ticks
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$leaktop/status")
  ticks=$(awk '{print $14 + $15}' "/proc/$leaktop/stat")
  echo "$rss $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')"
}
metric() { # name -> value of the unlabelled-by-stack series in the textfile
  awk -v m="$1" '$1 ~ "^" m "[{]" {print $2}' "$dir/leaktop.prom"
}
paths() { # paths the target made so far, from its last line
  tail -n 1 "$dir/target.out" | awk '{print $NF}'
}

sleep 10 # past start-up: probes attached, first stacks symbolized
read -r rss0 cpu0 < <(sample)
lost0=$(metric leaktop_lost_events_total)
paths0=$(paths)
t0=$(date +%s)
sleep "$seconds"
read -r rss1 cpu1 < <(sample)
t1=$(date +%s)
elapsed=$((t1 - t0))
printf 'soak %ss (%s): leaktop RSS %s KiB -> %s KiB (ratio %.3f); CPU %.1f%% of a core\n' \
  "$elapsed" "$(date -u +%F)" "$rss0" "$rss1" "$(awk -v a="$rss0" -v b="$rss1" 'BEGIN {print b / a}')" \
  "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$elapsed" 'BEGIN {print 100 * (b - a) / t}')"
printf 'paths made %s -> %s (distinct stacks: all 2^20 = 1048576 once 1048576 are made)\n' "$paths0" "$(paths)"
printf 'lost events %s -> %s; kernel maps %s bytes\n' "$lost0" "$(metric leaktop_lost_events_total)" \
  "$(metric leaktop_kernel_map_bytes)"
if grep -q 'top_frame="leak_late' "$dir/leaktop.prom"; then
  grep '^leaktop_stack_growth_bytes_per_second.*leak_late' "$dir/leaktop.prom" | sed 's/^/late leak shown: /'
else
  echo "late leak NOT shown"
fi
grep -v '^leaktop: tracing\|^leaktop: kernel maps hold' "$dir/leaktop.err" || true
