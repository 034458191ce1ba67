#!/usr/bin/env bash
# Churn throughput (malloc+free pairs per second) with no tracer, with empty
# probes at leaktop's places (the uprobe floor), with leaktop, and with memleak
# if MEMLEAK names its binary. Rounds alternate the modes so that the machine's
# drift hits all alike; the table shows medians and ratios from this one run.
# Usage: sudo bench/throughput.sh   (ROUNDS=3 SECONDS_PER_RUN=6 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-6}
modes=(untraced floor leaktop)
[[ -n ${MEMLEAK:-} ]] && modes+=(memleak)

run_mode() { # mode -> median ops/s of one run
  local mode=$1 target tracer= out
  out=$(mktemp)
  build/bench/churn -v > "$out" &
  target=$!
  case $mode in
    floor) build/bench/floor "$target" 2>/dev/null & tracer=$! ;;
    leaktop) ./leaktop -p "$target" -i 1 --quiet --prom-file "$out.prom" 2>/dev/null & tracer=$! ;;
    memleak) "$MEMLEAK" -p "$target" 1 >/dev/null 2>&1 & tracer=$! ;;
  esac
  sleep 2 # attach and settle
  : > "$out"
  sleep "$seconds"
  kill "$target"
  wait "$target" 2>/dev/null || true
  if [[ -n $tracer ]]; then kill -INT "$tracer" 2>/dev/null || true; wait "$tracer" 2>/dev/null || true; fi
  sort -n "$out" | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : 0)}'
  rm -f "$out" "$out.prom"
}

declare -A results
for ((r = 1; r <= rounds; r++)); do
  for mode in "${modes[@]}"; do
    results[$mode]+="$(run_mode "$mode") "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
untraced=$(echo "${results[untraced]}" | median)
floor=$(echo "${results[floor]}" | median)
printf '%-10s %14s %12s %12s\n' mode "ops/s" "vs untraced" "cost/floor"
for mode in "${modes[@]}"; do
  ops=$(echo "${results[$mode]}" | median)
  # cost per op relative to the floor's: (1/ops - 1/untraced) / (1/floor - 1/untraced)
  awk -v m="$mode" -v o="$ops" -v u="$untraced" -v f="$floor" 'BEGIN {
    cost = (m == "untraced") ? "-" : sprintf("%.2f", (1 / o - 1 / u) / (1 / f - 1 / u));
    printf "%-10s %14.0f %12.4f %12s\n", m, o, o / u, cost }'
done
echo "($rounds alternating rounds of ${seconds}s; $(nproc) CPUs; $(uname -r))"
