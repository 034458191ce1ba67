#!/usr/bin/env bash
# Cost of the kernel's Python stack walk per allocation and per frame, for
# each interpreter given (default: the pyenv and Debian ones present): lists
# made and dropped per second by bench/py_deep.py at two Python stack depths,
# untraced and under leaktop, and the mean run time of the alloc_enter program
# (kernel BPF statistics, turned on while this runs and restored at exit).
# Usage: sudo bench/python_cost.sh [PYTHON...]  (ROUNDS=3 SECONDS_PER_RUN=4 DEPTHS="4 48";
# LEAKTOP=path to measure another build)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3}
seconds=${SECONDS_PER_RUN:-4}
depths=(${DEPTHS:-4 48})
leaktop=${LEAKTOP:-./leaktop}
pythons=("$@")
if ((${#pythons[@]} == 0)); then
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for p in "$root"/versions/3.1[0-9].*/bin/python3.1[0-9] /usr/bin/python3.11 \
           {..,../..}/shared/pythons/3.13-lto/bin/python3.13; do
    [[ -x $p ]] && pythons+=("$p")
  done
fi

. bench/bpf_stats.sh  # from the top directory (cd above)

run() { # python depth tracer -> "median lists/s" "alloc_enter ns"
  local python=$1 depth=$2 tracer=$3 out target pid= ns=-
  out=$(mktemp)
  "$python" bench/py_deep.py "$depth" >> "$out" &  # appends: the file is emptied below
  target=$!
  [[ $tracer == leaktop ]] && { "$leaktop" -p "$target" -i 1 --quiet --prom-file "$out.prom" 2>/dev/null & pid=$!; }
  sleep 1
  # attached once the first textfile is out (slow on a loaded machine)
  for ((i = 0; i < 600; i++)); do [[ -z $pid || -e $out.prom ]] && break; sleep 0.1; done
  sleep 1
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
  for python in "${pythons[@]}"; do
    for depth in "${depths[@]}"; do
      for tracer in untraced leaktop; do
        result=$(run "$python" "$depth" "$tracer")
        ops[$python/$depth/$tracer]+="${result%,*} "
        ns[$python/$depth/$tracer]+="${result#*,} "
      done
    done
  done
done

printf '%-44s %6s %12s %12s %16s\n' interpreter depth "lists/s" "traced" "alloc_enter ns"
for python in "${pythons[@]}"; do
  for depth in "${depths[@]}"; do
    printf '%-44s %6d %12s %12s %16s\n' "$python ($("$python" -c 'import platform; print(platform.python_version())'))" \
      "$depth" "$(echo "${ops[$python/$depth/untraced]}" | median)" \
      "$(echo "${ops[$python/$depth/leaktop]}" | median)" "$(echo "${ns[$python/$depth/leaktop]}" | median)"
  done
done
echo "(lists/s: two allocations each; $rounds rounds of ${seconds}s; the per-frame cost is the alloc_enter difference between depths over the frames added; $(nproc) CPUs; $(uname -r))"
