# Sourced by the bench scripts: BPF run-time statistics on while they run
# (restored at exit), and the mean ns per run of one of leaktop's programs.

stats_before=$(sysctl -n kernel.bpf_stats_enabled)
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"' EXIT
sysctl -qw kernel.bpf_stats_enabled=1

# Mean ns per run of program $2 (default alloc_enter) loaded by process $1.
enter_ns() {
  local ids
  ids=$(for f in /proc/"$1"/fdinfo/*; do awk '/^prog_id:/ {print $2}' "$f" 2>/dev/null; done | sort -u)
  bpftool prog show -j | python3 -c '
import json, sys
ids = {int(i) for i in sys.argv[1].split()}
runs = [p for p in json.load(sys.stdin) if p["id"] in ids and p.get("name") == sys.argv[2]]
cnt = sum(p.get("run_cnt", 0) for p in runs)
print(round(sum(p.get("run_time_ns", 0) for p in runs) / cnt) if cnt else "-")' "$ids" "${2:-alloc_enter}"
}
