#!/usr/bin/env bash
# leaktop's BPF work per malloc+free, by program: the mean run time per call
# of alloc_enter, alloc_return and free_enter (kernel.bpf_stats_enabled on
# while this runs, restored at exit), over a measuring window after attach, on
# bench/churn (a 4-frame native stack), bench/deep_nofp at DEEP frames (no
# frame pointers) and, when the interpreter is there, bench/py_deep.py at DEEP
# Python frames (PYTHONMALLOC=malloc: every object a probed malloc).
# "per pair": the run time of all the tracer's programs over the window per
# block freed (runs of free_enter, libc's free, which every block reaches; a
# Python object of an attached PYTHONMALLOC=malloc interpreter also passes
# PyObject_Free's probe and, on its way in, two allocation probes), which is
# also measured for memleak when MEMLEAK names its binary (never built here),
# with the ratio memleak / leaktop (the last build given).
# LEAKTOPS="./leaktop /tmp/other" measures several builds in alternating
# rounds, for side-by-side figures on a busy machine.
# The statistics add two clock reads to each run of a program (part of each
# figure); the throughput without them is bench/throughput.sh's.  So the
# empty programs of bench/floor.c, on the same probes, are measured too
# (build "floor", always, in the same rounds): what they show is the price of
# the statistics and of entering a program, and "net" is leaktop's per pair
# less the floor's, the work leaktop's programs add.
# Usage: sudo bench/prog_cost.sh   (ROUNDS=3 SECONDS_PER_RUN=4 DEEP=30;
# TARGETS="churn,deep_nofp 8" to choose; PYTHON=interpreter for py_deep.py)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-4}
deep=${DEEP:-30}
read -r -a builds <<< "${LEAKTOPS:-./leaktop}"
last=${builds[-1]}  # the build memleak is compared with
builds+=(floor)
[[ -n ${MEMLEAK:-} ]] && builds+=(memleak)
python=${PYTHON:-/usr/bin/python3}
targets=(churn "deep_nofp $deep")
[[ -x $python ]] && targets+=("python $deep")
[[ -n ${TARGETS:-} ]] && IFS=, read -r -a targets <<< "$TARGETS"
# free_enter: libc's free and operator delete; py_free_enter: an interpreter's
# free wrapper (a Python attached to with PYTHONMALLOC=malloc has both).
programs=(alloc_enter alloc_return free_enter,py_free_enter)

. bench/bpf_stats.sh  # from the top directory (cd above)

run() { # build target -> "enter return free pair" ns
  local build=$1 target=$2 out pid tracer before after
  out=$(mktemp)
  case $target in
    churn) build/bench/churn > /dev/null & pid=$! ;;
    deep_nofp*) build/bench/deep_nofp "${target#* }" > /dev/null & pid=$! ;;
    python*) PYTHONMALLOC=malloc "$python" bench/py_deep.py "${target#* }" > /dev/null & pid=$! ;;
  esac
  if [[ $build == memleak ]]; then
    "$MEMLEAK" -p "$pid" 1 > /dev/null 2>&1 &
    tracer=$!
    sleep 3
  elif [[ $build == floor ]]; then
    build/bench/floor "$pid" 2>/dev/null &
    tracer=$!
    sleep 3
  else
    "$build" -p "$pid" -i 1 --quiet --prom-file "$out.prom" 2>/dev/null &
    tracer=$!
    # attached once the first textfile is out (slow on a loaded machine)
    for ((i = 0; i < 600; i++)); do [[ -e $out.prom ]] && break; sleep 0.1; done
  fi
  sleep 1
  before=$(prog_stats "$tracer")
  sleep "$seconds"
  after=$(prog_stats "$tracer")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  kill -INT "$tracer" 2>/dev/null || true; wait "$tracer" 2>/dev/null || true
  rm -f "$out" "$out.prom"
  local p line= names=("${programs[@]}")
  [[ $build == floor ]] && names=(floor_enter floor_return floor_free)
  for p in "${names[@]}"; do
    if [[ $build == memleak ]]; then line+="- "; else line+="$(window_ns "$before|$after" "$p") "; fi
  done
  echo "$line$(window_ns "$before|$after" "${names[2]%%,*}" pair)"
}

median() { tr ' ' '\n' | grep -v '^$' | grep -v '^-$' | sort -n | awk '{v[NR] = $1} END {print (NR ? v[int((NR + 1) / 2)] : "-")}'; }

declare -A ns
for ((r = 1; r <= rounds; r++)); do
  for target in "${targets[@]}"; do
    for build in "${builds[@]}"; do
      read -r -a result < <(run "$build" "$target")
      for i in 0 1 2 3; do ns[$build/$target/$i]+="${result[$i]} "; done
    done
  done
done

printf '%-14s %-22s %12s %13s %11s %9s\n' target build "alloc_enter" "alloc_return" "free_enter" "per pair"
for target in "${targets[@]}"; do
  for build in "${builds[@]}"; do
    printf '%-14s %-22s %12s %13s %11s %9s\n' "$target" "$build" \
      "$(echo "${ns[$build/$target/0]}" | median)" "$(echo "${ns[$build/$target/1]}" | median)" \
      "$(echo "${ns[$build/$target/2]}" | median)" "$(echo "${ns[$build/$target/3]}" | median)"
  done
  for build in "${builds[@]}"; do
    [[ $build == floor || $build == memleak ]] && continue
    awk -v l="$(echo "${ns[$build/$target/3]}" | median)" -v f="$(echo "${ns[floor/$target/3]}" | median)" -v b="$build" \
      'BEGIN { if (l + 0 > 0 && f + 0 > 0) printf "%-14s %s per pair net of the floor: %d ns\n", "", b, l - f }'
  done
  if [[ -n ${MEMLEAK:-} ]]; then
    awk -v m="$(echo "${ns[memleak/$target/3]}" | median)" -v l="$(echo "${ns[$last/$target/3]}" | median)" -v b="$last" \
      'BEGIN { if (m + 0 > 0 && l + 0 > 0) printf "%-14s memleak / %s per pair: %.2fx\n", "", b, m / l }'
  fi
done
echo "(ns per call: run_time_ns / run_cnt over ${seconds}s windows; per pair: all programs' run time per block freed;" \
  "medians of $rounds alternating rounds; kernel.bpf_stats_enabled adds two clock reads per run;" \
  "$(nproc) CPUs; $(uname -r))"
