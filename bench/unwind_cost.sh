#!/usr/bin/env bash
# Cost of the kernel unwinder per allocation and per frame: malloc+free
# throughput of bench/deep at two stack depths, built with and without frame
# pointers, untraced and under leaktop (and under OLD_LEAKTOP, e.g. a build
# from before the CFI unwinder, whose kernel walk used frame pointers only),
# and the mean run time of the alloc_enter program (the probe's BPF work,
# stack walk included), from the kernel's BPF statistics, which this script
# turns on while it runs (kernel.bpf_stats_enabled, restored at exit).
# Usage: sudo bench/unwind_cost.sh   (ROUNDS=3 SECONDS_PER_RUN=4 DEPTHS="4 48")
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-4}
depths=(${DEPTHS:-4 48})
tracers=(untraced leaktop)
[[ -n ${OLD_LEAKTOP:-} ]] && tracers+=(old)

. bench/bpf_stats.sh  # from the top directory (cd above)

run() { # program depth tracer -> "median ops/s of one run" "alloc_enter ns"
  local prog=$1 depth=$2 tracer=$3 out target pid= ns=-
  out=$(mktemp)
  "build/bench/$prog" "$depth" -v > "$out" &
  target=$!
  case $tracer in
    leaktop) ./leaktop -p "$target" -i 1 --quiet --prom-file "$out.prom" 2>/dev/null & pid=$! ;;
    old) "$OLD_LEAKTOP" -p "$target" -i 1 --quiet --prom-file "$out.prom" 2>/dev/null & pid=$! ;;
  esac
  sleep 2 # attach and settle
  : > "$out"
  sleep "$seconds"
  [[ -n $pid ]] && ns=$(enter_ns "$pid")
  kill "$target"; wait "$target" 2>/dev/null || true
  if [[ -n $pid ]]; then kill -INT "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  echo "$(sort -n "$out" | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : 0)}'),$ns"
  rm -f "$out" "$out.prom"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

declare -A ops ns
for ((r = 1; r <= rounds; r++)); do
  for prog in deep deep_nofp; do
    for depth in "${depths[@]}"; do
      for tracer in "${tracers[@]}"; do
        result=$(run "$prog" "$depth" "$tracer")
        ops[$prog/$depth/$tracer]+="${result%,*} "
        ns[$prog/$depth/$tracer]+="${result#*,} "
      done
    done
  done
done

# Added cost per malloc+free pair, in ns: 1e9/ops(traced) - 1e9/ops(untraced);
# alloc_enter: mean run time of the BPF program (median over rounds).
printf '%-10s %6s %-9s %12s %14s %16s\n' program depth tracer "pairs/s" "ns added/pair" "alloc_enter ns"
for prog in deep deep_nofp; do
  for depth in "${depths[@]}"; do
    base=$(echo "${ops[$prog/$depth/untraced]}" | median)
    for tracer in "${tracers[@]}"; do
      o=$(echo "${ops[$prog/$depth/$tracer]}" | median)
      e=$(echo "${ns[$prog/$depth/$tracer]}" | median)
      awk -v p="$prog" -v d="$depth" -v t="$tracer" -v o="$o" -v b="$base" -v e="$e" 'BEGIN {
        printf "%-10s %6d %-9s %12.0f %14s %16s\n", p, d, t, o, t == "untraced" ? "-" : sprintf("%.0f", 1e9 / o - 1e9 / b), e }'
    done
  done
done
echo "($rounds rounds of ${seconds}s; the per-frame cost is the difference between depths over the frames added; $(nproc) CPUs; $(uname -r))"
