#!/usr/bin/env bash
# leaktop's own RSS and CPU with many stacks and live allocations: the stacks
# target (bench/stacks.c) makes PATHS distinct stacks holding PER_PATH blocks
# each, under leaktop (maps sized to fit), then idles; leaktop's CPU is
# measured over MEASURE_SECONDS once the first report (which symbolizes every
# stack) is out.  Usage: sudo bench/memory.sh
#   (PATHS=100000 PER_PATH=10 INTERVAL=1 MEASURE_SECONDS=30)
set -euo pipefail
cd "$(dirname "$0")/.."
paths=${PATHS:-100000}
per_path=${PER_PATH:-10}
measure=${MEASURE_SECONDS:-30}
interval=${INTERVAL:-1}
dir=$(mktemp -d)
trap 'kill "$leaktop" 2>/dev/null && wait "$leaktop" 2>/dev/null; rm -rf "$dir"' EXIT

start=$(date +%s)
./leaktop -i "$interval" --max-stacks $((paths * 13 / 10)) --max-allocs $((paths * per_path * 13 / 10)) \
  --quiet --prom-file "$dir/l.prom" -- build/bench/stacks "$paths" "$per_path" > "$dir/out" 2> "$dir/err" &
leaktop=$!
until grep -q ready "$dir/out"; do
  kill -0 "$leaktop" 2>/dev/null || { cat "$dir/err"; exit 1; }
  sleep 1
done
made=$(($(date +%s) - start))
# The first report after ready symbolizes every stack; wait for two more.
mtime() { stat -c %Y "$dir/l.prom" 2>/dev/null || echo 0; }
t=$(mtime); while [[ $(mtime) == "$t" ]]; do sleep 0.5; done
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$leaktop/stat"; }
c0=$(ticks)
sleep "$measure"
c1=$(ticks)
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$leaktop/status")
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$leaktop/status")
bytes=$(awk '/^leaktop_outstanding_bytes\{/ {print $2}' "$dir/l.prom")
allocs=$(awk '/^leaktop_outstanding_allocations\{/ {print $2}' "$dir/l.prom")
lost=$(awk '/^leaktop_lost_events_total\{/ {print $2}' "$dir/l.prom")
printf 'memory: %s stacks x %s blocks (made in %ss under leaktop): tracked %s allocations, %s bytes, lost %s\n' \
  "$paths" "$per_path" "$made" "$allocs" "$bytes" "$lost"
printf 'leaktop RSS %s KiB (peak %s KiB); CPU %.1f%% of a core over %ss (interval %s s)\n' "$rss" "$hwm" \
  "$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" -v s="$measure" 'BEGIN {print 100 * (b - a) / hz / s}')" \
  "$measure" "$interval"
