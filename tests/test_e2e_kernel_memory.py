"""The kernel memory leaktop's maps hold (locked, the host's): said on stderr at
start, and nothing reserved for Python stacks in a program without Python."""
import os
import re
import signal

from conftest import bpftool_json, fdinfo, leaktop, target


def map_memory(pid):
    """memlock of each BPF map the process holds, by map name (the kernel's own
    account, from /proc/PID/fdinfo and bpftool for the names)."""
    ids = {int(info["map_id"]): int(info["memlock"]) for info in fdinfo(pid)
           if "map_id" in info and "memlock" in info}
    shown = bpftool_json("map", "show")
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
    largest = max(maps, key=maps.get)
    assert said.group(2).startswith(f"{largest} {maps[largest] / (1 << 20):.1f} MiB"), (said.group(0), maps)
    # A small C program at the default sizes: under 16 MiB in all (72 MiB
    # once: the allocation records and the Python stacks preallocated).
    assert total < 16, maps
    # No Python in the target: a Python stack map of one entry.
    assert maps["py_stacks"] < 4096, maps
    assert maps["stack_traces"] < 2 << 20, maps  # only the traces stored


def test_a_tracked_allocation_costs_at_most_64_bytes(procs):
    """The allocation records (the allocs table, bpf/alloc_table.h) take no
    more kernel memory as blocks are tracked: 100,000 more live blocks, all
    tracked, add nothing to allocs' memlock (the kernel's account), and the
    table is at most 64 bytes per allocation --max-allocs allows, at the
    worst rounding (a power of two of entries just past twice the count)."""
    tgt = procs([target("hold_many"), "--wait"])
    tgt.wait_line("waiting", 10)
    max_allocs = (1 << 17) + 1
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "--max-allocs", max_allocs))
    lt.json_lines(1, 15)
    before = map_memory(lt.pid)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    report = lt.fresh_json(2, 15)
    assert report["outstanding_allocs"] >= 100000, report["outstanding_allocs"]
    assert "allocs_map_full" not in report.get("lost_by_reason", {}), report["lost_by_reason"]
    after = map_memory(lt.pid)
    records = after["allocs"] + after["big_sizes"] - before["allocs"] - before["big_sizes"]
    assert records <= 64 * 100000, records
    # The table's own size, with the page it is mapped by and a counter.
    assert after["allocs"] <= 64 * max_allocs + 8192, after["allocs"]


def test_python_showing_up_later_is_said_and_its_frames_stay_off(procs):
    """Attached to a program without Python, which then execs the
    interpreter: no Python stack map was made, and leaktop says so."""
    script = ("import time\n"
              "x = [bytearray(1000) for _ in range(100)]\n"
              "print('ready', flush=True)\n"
              "time.sleep(60)\n")
    tgt = procs(["/bin/sh", "-c", 'echo waiting; kill -STOP $$; exec /usr/bin/python3 -c "$0"', script])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGCONT)
    tgt.wait_line("ready", 15)
    lt.fresh_json(3, 15)
    assert re.search(r"Python 3\.[0-9.]+ in \S+ showed up after the start: Python frames are off for it",
                     lt.stderr()), lt.stderr()
    assert map_memory(lt.pid)["py_stacks"] < 4096

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


def test_map_memory_of_a_group_counts_the_shared_map_once(procs):
    """-p A,B: each process has its own BPF object, the allocations map is
    one for both (shared): kernel_map_bytes is the memlock of every map
    leaktop holds, each map counted once (by its id), however many of its
    descriptors leaktop holds."""
    a = procs([target("leak_rate"), "--wait"])
    b = procs([target("leak_rate"), "--wait"])
    a.wait_line("waiting", 10)
    b.wait_line("waiting", 10)
    lt = procs(leaktop("-p", f"{a.pid},{b.pid}", "--json", "-i", "0.5"))
    lt.json_lines(2, 15)
    report = lt.fresh_json(1, 15)
    maps = {info["map_id"]: int(info["memlock"]) for info in fdinfo(lt.pid)
            if "map_id" in info and "memlock" in info}
    truth = sum(maps.values())
    assert len(report["processes"]) == 2, report["processes"]
    assert abs(report["kernel_map_bytes"] - truth) <= 0.02 * truth, (report["kernel_map_bytes"], truth)


def test_unwind_rows_are_sized_from_what_the_target_maps(procs):
    """The unwind rows (8 MiB whatever the target, before) get room for the
    objects the target maps at the start, twice over and a margin: a small C
    program through libc takes well under 2 MiB; attached to the Python
    interpreter (python3.11 alone has ~65,000 rows), everything it maps
    fits, with no "unwind rows full" said."""
    tgt = procs([target("leak_rate"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 15)
    rows = map_memory(lt.pid)["unwind_rows"]
    assert rows < 2 << 20, rows

    py = procs(["/usr/bin/python3", "-c", "import time; print('waiting', flush=True); time.sleep(60)"])
    py.wait_line("waiting", 10)
    lt = procs(leaktop("-p", py.pid, "--json", "-i", "0.5"))
    lt.json_lines(2, 15)
    rows = map_memory(lt.pid)["unwind_rows"]
    assert "full" not in lt.stderr(), lt.stderr()
    assert 8 * 65000 < rows < 8 << 20, rows
