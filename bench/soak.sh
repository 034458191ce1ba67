#!/usr/bin/env bash
# Soak: leaktop attached for SOAK_SECONDS (default 1800) to a high-rate
# allocator; prints leaktop's RSS and CPU at the start and at the end. Its RSS
# must stay flat. Usage: sudo bench/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${SOAK_SECONDS:-1800}}
make -s leaktop build/bench/churn >/dev/null

build/bench/churn > /dev/null &
target=$!
./leaktop -p "$target" -i 1 --quiet --prom-file "$(mktemp -d)/leaktop.prom" &
leaktop=$!
trap 'kill "$leaktop" "$target" 2>/dev/null || true' EXIT

sample() { # rss_kib cpu_seconds
  local rss ticks
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$leaktop/status")
  ticks=$(awk '{print $14 + $15}' "/proc/$leaktop/stat")
  echo "$rss $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", t / hz}')"
}

sleep 10 # past start-up: probes attached, first stacks symbolized
read -r rss0 cpu0 < <(sample)
t0=$(date +%s)
sleep "$seconds"
read -r rss1 cpu1 < <(sample)
t1=$(date +%s)
elapsed=$((t1 - t0))
printf 'soak %ss: leaktop RSS %s KiB -> %s KiB (ratio %.3f); CPU %.1f%% of a core\n' \
  "$elapsed" "$rss0" "$rss1" "$(awk -v a="$rss0" -v b="$rss1" 'BEGIN {print b / a}')" \
  "$(awk -v a="$cpu0" -v b="$cpu1" -v t="$elapsed" 'BEGIN {print 100 * (b - a) / t}')"
