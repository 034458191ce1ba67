#!/usr/bin/env bash
# Per-event cost of the allocs map, not preallocated (leaktop's default) and
# preallocated (LEAKTOP_ALLOCS_PREALLOC=1): mean ns per run of the return
# probe (which stores the record) and the free probe (which takes it out),
# from the kernel's BPF run-time statistics, with leaktop on the churn
# target; rounds alternate the two. Usage: sudo bench/allocs_cost.sh
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-5}
make -s leaktop build/bench/churn >/dev/null
source bench/bpf_stats.sh

run() { # mode -> "return_ns free_ns"
  local target tracer ret fr prom
  prom=$(mktemp -d)
  build/bench/churn > /dev/null &
  target=$!
  if [[ $1 == prealloc ]]; then
    LEAKTOP_ALLOCS_PREALLOC=1 ./leaktop -p "$target" -i 1 --quiet --prom-file "$prom/l.prom" 2>/dev/null &
  else
    ./leaktop -p "$target" -i 1 --quiet --prom-file "$prom/l.prom" 2>/dev/null &
  fi
  tracer=$!
  sleep "$seconds"
  ret=$(enter_ns "$tracer" alloc_return)
  fr=$(enter_ns "$tracer" free_enter)
  kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
  kill "$target"; wait "$target" 2>/dev/null || true
  rm -rf "$prom"
  echo "$ret $fr"
}

for ((r = 1; r <= rounds; r++)); do
  for mode in no-prealloc prealloc; do
    read -r ret fr < <(run "$mode")
    printf '%-12s round %d: alloc_return %s ns, free_enter %s ns\n' "$mode" "$r" "$ret" "$fr"
  done
done
