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
