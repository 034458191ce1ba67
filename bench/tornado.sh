#!/usr/bin/env bash
# PUT throughput of the tornado test service (tests/targets/tornado_service.py,
# without the leak) on Debian's python3.11: untraced, with leaktop attached
# (pymalloc inlined: arenas), and started under leaktop (PYTHONMALLOC=malloc,
# every object probed) next to its untraced twin, and the same with
# --duty-cycle $DUTY (default 10).  The floor modes attach empty BPF programs
# at leaktop's probes (bench/floor.c): the traps alone, what no work in the
# programs can beat (floor: the service as attached; malloc-floor: with
# PYTHONMALLOC=malloc, every object a probed malloc, as spawned;
# malloc-floor-off: only the probes --duty-cycle keeps in its off-phase, the
# frees and the realloc family).  Rounds alternate; the table shows medians
# and ratios from this one run.
# Usage: sudo bench/tornado.sh   (ROUNDS=3 SECONDS_PER_RUN=8 DUTY=10 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-8}
duty=${DUTY:-10}
service=tests/targets/tornado_service.py
python=/usr/bin/python3.11
modes=(untraced floor attached attached-duty malloc-untraced malloc-floor malloc-floor-off spawned spawned-duty)

run_mode() { # mode -> requests/s
  local mode=$1 out pid tracer= port
  out=$(mktemp)
  case $mode in
    untraced) $python $service > "$out" & pid=$! ;;
    malloc-untraced) PYTHONMALLOC=malloc $python $service > "$out" & pid=$! ;;
    attached|attached-duty|floor) $python $service > "$out" & pid=$! ;;
    malloc-floor|malloc-floor-off) PYTHONMALLOC=malloc $python $service > "$out" & pid=$! ;;
    spawned) ./leaktop --quiet --prom-file "$out.prom" -- $python $service > "$out" 2>/dev/null & tracer=$! ;;
    spawned-duty) ./leaktop --quiet --prom-file "$out.prom" --duty-cycle "$duty" -- $python $service > "$out" 2>/dev/null & tracer=$! ;;
  esac
  for _ in $(seq 900); do grep -q '^port ' "$out" && break; sleep 0.1; done
  port=$(awk '/^port /{print $2}' "$out")
  [[ $mode == attached ]] && { ./leaktop -p "$pid" --quiet --prom-file "$out.prom" 2>/dev/null & tracer=$!; sleep 1; }
  [[ $mode == floor || $mode == malloc-floor ]] && { build/bench/floor "$pid" 2>/dev/null & tracer=$!; sleep 1; }
  [[ $mode == malloc-floor-off ]] && { FLOOR_OFF_PHASE=1 build/bench/floor "$pid" 2>/dev/null & tracer=$!; sleep 1; }
  [[ $mode == attached-duty ]] && { ./leaktop -p "$pid" --quiet --prom-file "$out.prom" --duty-cycle "$duty" 2>/dev/null & tracer=$!; sleep 1; }
  $python bench/tornado_client.py "$port" "$seconds"
  [[ -n $tracer ]] && { kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true; }
  [[ -n ${pid:-} ]] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  rm -f "$out" "$out.prom"
}

declare -A results
for ((r = 1; r <= rounds; r++)); do
  for mode in "${modes[@]}"; do
    results[$mode]+="$(run_mode "$mode") "
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
printf '%-16s %10s %14s\n' mode "PUTs/s" "vs untraced"
for mode in "${modes[@]}"; do
  base=untraced
  [[ $mode == spawned* || $mode == malloc-floor* ]] && base=malloc-untraced
  awk -v m="$mode" -v v="$(echo "${results[$mode]}" | median)" -v b="$(echo "${results[$base]}" | median)" \
    'BEGIN { printf "%-16s %10.1f %14.3f\n", m, v, v / b }'
done
echo "(1 MiB PUTs, one connection; $rounds alternating rounds of ${seconds}s; spawned modes and malloc-floor are compared with malloc-untraced; duty cycle $duty%; $(nproc) CPUs; $(uname -r))"
