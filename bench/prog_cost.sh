#!/usr/bin/env bash
# leaktop's BPF work per malloc+free, by program: the mean run time per call
# of alloc_enter, alloc_return and free_enter (kernel.bpf_stats_enabled on
# while this runs, restored at exit), over a measuring window after attach, on
# bench/churn (a 4-frame native stack), bench/deep_nofp at DEEP frames (no
# frame pointers) and, when python3 is present, bench/py_deep.py at DEEP
# Python frames.  LEAKTOPS="./leaktop /tmp/other" measures several builds in
# alternating rounds, for side-by-side figures on a busy machine.
# Usage: sudo bench/prog_cost.sh   (ROUNDS=3 SECONDS_PER_RUN=4 DEEP=30;
# TARGETS="churn,deep_nofp 8" to choose; PYTHON=interpreter for py_deep.py)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-4}
deep=${DEEP:-30}
read -r -a builds <<< "${LEAKTOPS:-./leaktop}"
python=${PYTHON:-/usr/bin/python3}
targets=(churn "deep_nofp $deep")
[[ -x $python ]] && targets+=("python $deep")
[[ -n ${TARGETS:-} ]] && IFS=, read -r -a targets <<< "$TARGETS"
programs=(alloc_enter alloc_return free_enter)

. bench/bpf_stats.sh  # from the top directory (cd above)

run() { # build target -> "enter return free" ns per call
  local build=$1 target=$2 out pid tracer before after
  out=$(mktemp)
  case $target in
    churn) build/bench/churn > /dev/null & pid=$! ;;
    deep_nofp*) build/bench/deep_nofp "${target#* }" > /dev/null & pid=$! ;;
    python*) PYTHONMALLOC=malloc "$python" bench/py_deep.py "${target#* }" > /dev/null & pid=$! ;;
  esac
  "$build" -p "$pid" -i 1 --quiet --prom-file "$out.prom" 2>/dev/null &
  tracer=$!
  # attached once the first textfile is out (slow on a loaded machine)
  for ((i = 0; i < 600; i++)); do [[ -e $out.prom ]] && break; sleep 0.1; done
  sleep 1
  before=$(prog_stats "$tracer")
  sleep "$seconds"
  after=$(prog_stats "$tracer")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  kill -INT "$tracer" 2>/dev/null || true; wait "$tracer" 2>/dev/null || true
  rm -f "$out" "$out.prom"
  local p line=
  for p in "${programs[@]}"; do line+="$(window_ns "$before|$after" "$p") "; done
  echo "$line"
}

median() { tr ' ' '\n' | grep -v '^$' | grep -v '^-$' | sort -n | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : "-")}'; }

declare -A ns
for ((r = 1; r <= rounds; r++)); do
  for target in "${targets[@]}"; do
    for build in "${builds[@]}"; do
      read -r -a result < <(run "$build" "$target")
      for i in "${!programs[@]}"; do ns[$build/$target/${programs[$i]}]+="${result[$i]} "; done
    done
  done
done

printf '%-16s %-20s %12s %13s %11s %10s\n' target build "alloc_enter" "alloc_return" "free_enter" "sum ns"
for target in "${targets[@]}"; do
  for build in "${builds[@]}"; do
    e=$(echo "${ns[$build/$target/alloc_enter]}" | median)
    r=$(echo "${ns[$build/$target/alloc_return]}" | median)
    f=$(echo "${ns[$build/$target/free_enter]}" | median)
    awk -v t="$target" -v b="$build" -v e="$e" -v r="$r" -v f="$f" 'BEGIN {
      printf "%-16s %-20s %12s %13s %11s %10s\n", t, b, e, r, f, (e == "-" || r == "-" || f == "-") ? "-" : e + r + f }'
  done
done
echo "(ns per call: run_time_ns / run_cnt over ${seconds}s windows, median of $rounds alternating rounds; sum: per malloc+free; $(nproc) CPUs; $(uname -r))"
