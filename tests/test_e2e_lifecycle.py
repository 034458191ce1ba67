"""Target exit, signals, -c, the JSON contract and stable stack ids."""
import os
import re
import signal
import time

import pytest

from conftest import find_stack, leaktop, leaktop_links, no_links_left, spawn_after_ready, target


def test_target_exit_ends_leaktop_spawn(procs):
    lt = procs(leaktop("--json", "-i", "0.5", "--", target("exits")))
    reports = lt.all_json(20)
    assert lt.wait(5) == 0
    assert "exited with status 0" in lt.stderr()
    assert find_stack(reports[-1], "keep_then_exit")["outstanding_bytes"] == 4096


def test_target_exit_ends_leaktop_attach(procs):
    before = leaktop_links()
    tgt = procs([target("exits"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    reports = lt.all_json(20)
    assert lt.wait(5) == 0
    assert f"PID {tgt.pid} (exits) exited" in lt.stderr()
    assert find_stack(reports[-1], "keep_then_exit")["outstanding_bytes"] == 4096
    assert no_links_left(before)


def check_signal_stops(procs, sig):
    before = leaktop_links()
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "10"))
    lt.wait_stderr("tracing PID", 30)  # attached, mid-interval
    time.sleep(0.5)  # five of the target's 100 ms leaks
    os.kill(lt.pid, sig)
    reports = lt.all_json(15)
    assert lt.wait(5) == 0
    assert len(reports) == 1  # the final report, not lost
    assert find_stack(reports[0], "leak_slowly")["outstanding_bytes"] > 0
    assert tgt.popen.poll() is None  # the target is unaffected
    assert no_links_left(before)


def test_sigint_prints_final_report(procs):
    check_signal_stops(procs, signal.SIGINT)


def test_sigterm_prints_final_report(procs):
    check_signal_stops(procs, signal.SIGTERM)


def test_count_stops_and_ends_spawned_command(procs):
    lt = procs(leaktop("--json", "-i", "0.3", "-c", "3", "--", target("leak_rate")))
    reports = lt.all_json(20)
    assert lt.wait(5) == 0
    assert len(reports) == 3
    child = reports[0]["pid"]
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{child}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{child}")  # leaktop terminated and reaped it


def test_json_contract(procs):
    report, _ = spawn_after_ready(procs, "exact", "-n", "5")
    types = {"time": float, "pid": int, "interval_s": float, "elapsed_s": float,
             "outstanding_bytes": int, "outstanding_allocs": int, "lost_events": int,
             "stacks": list}
    for key, kind in types.items():
        assert isinstance(report[key], kind), key
    assert abs(report["time"] - time.time()) < 60
    assert report["interval_s"] == 0.5
    assert 0 < len(report["stacks"]) <= 5
    rates = [s["growth_bytes_per_s"] for s in report["stacks"]]
    assert rates == sorted(rates, reverse=True)
    for stack in report["stacks"]:
        assert re.fullmatch(r"[0-9a-f]{16}", stack["id"])
        assert isinstance(stack["outstanding_bytes"], int)
        assert isinstance(stack["outstanding_allocs"], int)
        assert isinstance(stack["growth_bytes_per_s"], float)
        for frame in stack["frames"]:
            assert set(frame) >= {"kind", "function", "file", "line", "object"}
            assert frame["kind"] in ("native", "python")
            assert frame["line"] is None or isinstance(frame["line"], int)
    # The totals cover at least the stacks listed.
    assert report["outstanding_bytes"] >= sum(s["outstanding_bytes"] for s in report["stacks"])


def test_stack_ids_stable_across_runs(procs):
    first, _ = spawn_after_ready(procs, "exact", "-n", "50")
    second, _ = spawn_after_ready(procs, "exact", "-n", "50")
    assert first["pid"] != second["pid"]
    for caller in ("keep_blocks", "grow_buffer", "keep_calloc"):
        assert find_stack(first, caller)["id"] == find_stack(second, caller)["id"]
    assert find_stack(first, "keep_blocks")["id"] != find_stack(first, "keep_calloc")["id"]


def test_batch_text(procs):
    lt = procs(leaktop("-b", "-i", "0.5", "-c", "4", "-n", "3", "--", target("leak_rate")))
    lt.wait(20)
    text = "\n".join(iter(lambda: lt.read_line(1), None))
    assert lt.popen.returncode == 0
    assert text.count("outstanding ") == 4
    assert "GROWTH" in text and "OUTSTANDING" in text
    assert "leak_slowly (leak_rate.c:" in text
    assert "10.0 MiB" in text  # human units


@pytest.mark.parametrize("given, seen", [(None, "malloc"), ("pymalloc", "pymalloc"),
                                         ("malloc_debug", "malloc_debug")])
def test_spawn_sets_pythonmalloc_unless_the_user_did(procs, given, seen):
    env = dict(os.environ)
    env.pop("PYTHONMALLOC", None)
    if given:
        env["PYTHONMALLOC"] = given
    lt = procs(leaktop("-b", "-i", "0.3", "-c", "2", "--", "/usr/bin/python3", "-c",
                       "import os, time; print('PYTHONMALLOC=' + os.environ.get('PYTHONMALLOC', ''), "
                       "flush=True); time.sleep(1)"), env=env)
    lt.wait_line(f"PYTHONMALLOC={seen}", 30)
