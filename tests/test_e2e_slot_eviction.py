"""More live stacks than slots: every one of turnover's 1024 call paths holds
blocks all the time, 256 slots.  Stacks that hold least and do not grow give
their slots up; a leak that starts later, on a stack of its own, gets one,
keeps it, and is seen at its true rate.  What was not tracked is counted."""
import os
import signal
import time

from conftest import find_stack, leaktop, target
from test_e2e_slots import least_squares_slope

WINDOW_S = 4


def test_a_late_leak_gets_a_slot_when_live_stacks_outnumber_them(procs):
    tgt = procs([target("turnover"), "--wait", "--bits", "10", "--live", "4000",
                 "--leak-after", "4", "--paths-per-s", "1600"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "--window", WINDOW_S, "-n", "10",
                       "--max-stacks", "256"))
    lt.json_lines(1, 15)  # probes are live
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)

    # The target's own account of its leak: (time, bytes leaked).
    leaked = []
    deadline = time.monotonic() + 60
    while not (leaked and leaked[-1][0] - leaked[0][0] >= 2 * WINDOW_S + 4):
        line = tgt.read_line(max(0.01, deadline - time.monotonic()))
        assert line is not None, "the target stopped reporting"
        if line.startswith("leaked "):
            _, bytes_, at, _ = line.split()
            leaked.append((float(at), int(bytes_)))
    lt.drain()
    reports = lt.json_lines(2 * WINDOW_S, 30)
    report = reports[-1]
    while leaked[-1][0] < report["time"]:
        line = tgt.read_line(5)
        assert line is not None
        if line.startswith("leaked "):
            _, bytes_, at, _ = line.split()
            leaked.append((float(at), int(bytes_)))

    # Once it has a slot the leak keeps it: its bytes never fall back.
    held = [find_stack(r, "leak_late")["outstanding_bytes"] for r in reports]
    assert held == sorted(held) and held[0] > 0, held
    stack = find_stack(report, "leak_late")
    in_window = [(t, b) for t, b in leaked if report["time"] - WINDOW_S <= t <= report["time"]]
    true_rate = least_squares_slope(in_window)
    assert abs(stack["growth_bytes_per_s"] - true_rate) <= 0.15 * true_rate, (
        stack["growth_bytes_per_s"], true_rate)
    # What could not be tracked is counted and said.
    assert report["stacks_evicted"] > 0 and report["lost_events"] > 0, report
    assert report["lost_by_reason"]["evicted_stacks"] > 0, report["lost_by_reason"]
    assert "live stacks outnumber the stack slots (256)" in lt.stderr()


def test_an_evicted_stack_s_frees_take_nothing_off_its_slot_s_next_stack(procs):
    # 16 stacks hold a 64 KiB block each in 16 slots; 8 new stacks keep
    # making 1000-byte blocks, so still old stacks are evicted and their
    # slots go to new ones; then the old blocks are freed.  Each new
    # stack's figures are its own: 1000 bytes for each allocation counted.
    tgt = procs([target("evicted_frees"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.1", "-n", "100", "--max-stacks", "16"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("held", 15)
    lt.fresh_json(4, 30)  # the old stacks are still: eviction candidates
    os.kill(tgt.pid, signal.SIGUSR1)

    def new_stacks(report):
        return [s for s in report["stacks"] if any(f["function"] == "new_block" for f in s["frames"])]

    deadline = time.monotonic() + 60
    while len(new_stacks(report := lt.fresh_json(1, 30))) < 4:
        assert time.monotonic() < deadline, f"new stacks never got slots: {report}"
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("freed", 15)
    report = lt.fresh_json(3, 30)
    assert report["stacks_evicted"] > 0, report
    assert len(new_stacks(report)) >= 4
    for stack in report["stacks"]:
        assert stack["outstanding_bytes"] >= 0 and stack["outstanding_allocs"] >= 0, stack
    for stack in new_stacks(report):
        assert stack["outstanding_bytes"] == 1000 * stack["outstanding_allocs"] > 0, stack
