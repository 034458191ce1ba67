# Sourced by the bench scripts: BPF run-time statistics on while they run
# (restored at exit), and the run time of leaktop's programs.

stats_before=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1

# "name run_time_ns run_cnt" for each program loaded by process $1 (summed by
# name), so that a window's cost is the difference of two calls.
prog_stats() {
  local ids
  ids=$(for f in /proc/"$1"/fdinfo/*; do awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null; done | sort -u)
  bpftool prog show -j | python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1].split()}
sums = {}
for p in json.load(sys.stdin):
    if p["id"] in ids and "name" in p:
        t, c = sums.get(p["name"], (0, 0))
        sums[p["name"]] = (t + p.get("run_time_ns", 0), c + p.get("run_cnt", 0))
for name, (t, c) in sorted(sums.items()):
    print(name, t, c)' "$ids"
}

# Between two outputs of prog_stats ($1: "before|after", the two joined by a
# '|'; before empty: since load): the mean ns per run of program $2 (default
# alloc_enter; "a,b": of programs a and b together), or with $3 = pair, the
# run time of all the programs per run of program(s) $2 (the free probes: per
# malloc+free pair).
window_ns() {
  python3 -c '
import sys
def parse(text):
    return {l.split()[0]: (int(l.split()[1]), int(l.split()[2])) for l in text.splitlines() if l.strip()}
before, after = (parse(t) for t in sys.argv[1].split("|"))
def delta(name, i):
    return after.get(name, (0, 0))[i] - before.get(name, (0, 0))[i]
names = sys.argv[2].split(",")
time = sum(delta(n, 0) for n in (after if sys.argv[3] == "pair" else names))
runs = sum(delta(n, 1) for n in names)
print(round(time / runs) if runs > 0 else "-")' "$1" "${2:-alloc_enter}" "${3:-}"
}

# Mean ns per run of program $2 (default alloc_enter) loaded by process $1,
# since load.
enter_ns() {
  window_ns "|$(prog_stats "$1")" "${2:-alloc_enter}"
}
