#!/usr/bin/env bash
# Churn throughput (malloc+free pairs per second) with no tracer, with empty
# probes at the function entries (floor-entry) and at leaktop's places (the
# uprobe floor, which cost/floor compares with), with leaktop exact and
# sampled (-s $SAMPLE_BYTES), and with memleak if MEMLEAK names its binary
# (never built here), and with leaktop-old, another build (OLD_LEAKTOP=path,
# e.g. one from before a change), exact. Rounds alternate the modes so that the machine's drift
# hits all alike; the table shows medians and ratios from this one run.
# cost/floor: leaktop's added cost per op over the floor's,
#   (1/ops - 1/untraced) / (1/floor - 1/untraced).
# cpu us/op: CPU time of target and tracer together (user + system, where the
#   kernel runs the probes) per op, over the measuring window.
# Usage: sudo bench/throughput.sh   (ROUNDS=3 SECONDS_PER_RUN=6 SAMPLE_BYTES=524288)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-6}
sample_bytes=${SAMPLE_BYTES:-524288}
modes=(untraced floor-entry floor leaktop leaktop-s)
[[ -n ${OLD_LEAKTOP:-} ]] && modes+=(leaktop-old)
[[ -n ${MEMLEAK:-} ]] && modes+=(memleak)
hz=$(getconf CLK_TCK)

cpu_ticks() { # pids... -> utime + stime, summed
  local t=0 p
  for p in "$@"; do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}

run_mode() { # mode -> "median_ops_per_s cpu_us_per_op" of one run
  local mode=$1 target tracer= out prom cpu0 cpu1 ops
  out=$(mktemp)
  prom=$(mktemp -d)
  build/bench/churn -v > "$out" &
  target=$!
  case $mode in
    floor) build/bench/floor "$target" 2>/dev/null & tracer=$! ;;
    floor-entry) FLOOR_AT_ENTRY=1 build/bench/floor "$target" 2>/dev/null & tracer=$! ;;
    leaktop) ./leaktop -p "$target" -i 1 --quiet --prom-file "$prom/l.prom" 2>/dev/null & tracer=$! ;;
    leaktop-s) ./leaktop -p "$target" -i 1 -s "$sample_bytes" --quiet --prom-file "$prom/l.prom" 2>/dev/null &
      tracer=$! ;;
    leaktop-old) "$OLD_LEAKTOP" -p "$target" -i 1 --quiet --prom-file "$prom/l.prom" 2>/dev/null & tracer=$! ;;
    memleak) "$MEMLEAK" -p "$target" 1 >/dev/null 2>&1 & tracer=$! ;;
  esac
  sleep 2 # attach and settle
  : > "$out"
  cpu0=$(cpu_ticks "$target" $tracer)
  sleep "$seconds"
  cpu1=$(cpu_ticks "$target" $tracer)
  kill "$target"
  wait "$target" 2>/dev/null || true
  if [[ -n $tracer ]]; then kill -INT "$tracer" 2>/dev/null || true; wait "$tracer" 2>/dev/null || true; fi
  ops=$(sort -n "$out" | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : 0)}')
  awk -v o="$ops" -v c=$((cpu1 - cpu0)) -v hz="$hz" -v s="$seconds" \
    'BEGIN {printf "%s %.4f\n", o, (o > 0 ? 1e6 * c / hz / (o * s) : 0)}'
  rm -rf "$out" "$prom"
}

declare -A ops cpu
for ((r = 1; r <= rounds; r++)); do
  for mode in "${modes[@]}"; do
    read -r o c < <(run_mode "$mode")
    ops[$mode]+="$o "
    cpu[$mode]+="$c "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
untraced=$(echo "${ops[untraced]}" | median)
floor=$(echo "${ops[floor]}" | median)
printf '%-10s %12s %12s %11s %11s\n' mode "ops/s" "vs untraced" "cost/floor" "cpu us/op"
for mode in "${modes[@]}"; do
  o=$(echo "${ops[$mode]}" | median)
  c=$(echo "${cpu[$mode]}" | median)
  awk -v m="$mode" -v o="$o" -v u="$untraced" -v f="$floor" -v c="$c" 'BEGIN {
    cost = (m == "untraced") ? "-" : sprintf("%.2f", (1 / o - 1 / u) / (1 / f - 1 / u));
    printf "%-10s %12.0f %12.4f %11s %11.3f\n", m, o, o / u, cost, c }'
done
if [[ -n ${MEMLEAK:-} ]]; then
  echo "leaktop / memleak throughput: $(awk -v a="$(echo "${ops[leaktop]}" | median)" \
    -v b="$(echo "${ops[memleak]}" | median)" 'BEGIN {printf "%.2fx", a / b}')"
fi
echo "($rounds alternating rounds of ${seconds}s; -s $sample_bytes; $(nproc) CPUs; $(uname -r);" \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
