"""The kernel memory leaktop's maps hold (locked, the host's): said on stderr at
start, and nothing reserved for Python stacks in a program without Python."""
import re
import subprocess
import json

from conftest import fdinfo, leaktop, target


def map_memory(pid):
    """memlock of each BPF map the process holds, by map name (the kernel's own
    account, from /proc/PID/fdinfo and bpftool for the names)."""
    ids = {int(info["map_id"]): int(info["memlock"]) for info in fdinfo(pid)
           if "map_id" in info and "memlock" in info}
    shown = json.loads(subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True,
                                      text=True).stdout or "[]")
    return {m["name"]: ids[m["id"]] for m in shown if m["id"] in ids}


def test_map_memory_is_said_at_start_and_python_maps_cost_nothing_without_python(procs):
    tgt = procs([target("leak_rate"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 15)
    said = re.search(r"kernel maps hold ([0-9.]+) MiB \(([^;]*);", lt.stderr())
    assert said, lt.stderr()
    maps = map_memory(lt.pid)
    total = sum(maps.values()) / (1 << 20)
    # Maps not preallocated grow as they are used: a little since start.
    assert abs(float(said.group(1)) - total) <= 0.02 * total + 0.1, (said.group(0), maps)
    assert said.group(2).startswith(f"allocs {maps['allocs'] / (1 << 20):.1f} MiB")
    # 1 KiB per Python stack, none stored: nothing held (18 MiB preallocated before).
    assert maps["py_stacks"] < 1 << 20, maps
    assert maps["stack_traces"] < 2 << 20, maps  # only the traces stored


def test_map_memory_is_in_json_and_prometheus(procs, tmp_path):
    """kernel_map_bytes (JSON) and leaktop_kernel_map_bytes (Prometheus) are
    the memlock the kernel accounts to leaktop's maps (its fdinfo), read
    right after the report: maps not preallocated grow a little meanwhile."""
    from test_e2e_export import parse_prom, series
    prom = tmp_path / "leaktop.prom"
    tgt = procs([target("leak_rate"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "--prom-file", prom))
    lt.json_lines(2, 15)
    report = lt.fresh_json(1, 15)
    truth = sum(map_memory(lt.pid).values())
    assert abs(report["kernel_map_bytes"] - truth) <= 0.02 * truth, (report["kernel_map_bytes"], truth)
    (gauge,) = series(parse_prom(prom.read_text()), "leaktop_kernel_map_bytes",
                      pid=str(tgt.pid)).values()
    assert abs(gauge - truth) <= 0.02 * truth, (gauge, truth)
