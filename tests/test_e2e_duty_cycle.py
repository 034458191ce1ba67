"""--duty-cycle: allocation probes on part of each second, figures scaled."""
import os
import time

import pytest

from conftest import find_stack, leaktop, target

LEAK_RATE = 1_000_000  # busy_leak: 2 x 500 B kept every millisecond


def links_of(pid):
    """How many BPF links the process holds open."""
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                count += "link_id:" in f.read()
        except OSError:
            pass
    return count


def test_duty_cycle_detaches_allocation_probes_and_scales_the_figures(procs):
    tgt = procs([target("busy_leak")])
    tgt.wait_line("ready", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "1", "--duty-cycle", "20"))
    lt.json_lines(1, 20)
    # Over a few cycles the allocation probes come and go; free probes stay.
    seen = set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        seen.add(links_of(lt.pid))
        time.sleep(0.02)
    assert len(seen) >= 2 and min(seen) > 0, seen
    report = lt.json_lines(6, 30)[-1]
    assert 0.17 <= report["duty_cycle"] <= 0.23
    leak = find_stack(report, "leak_small")
    # Seen for about a fifth of the time, scaled by the measured share.
    assert leak["growth_bytes_per_s"] == pytest.approx(LEAK_RATE, rel=0.10)
    assert leak["outstanding_bytes"] == pytest.approx(LEAK_RATE * report["elapsed_s"], rel=0.15)
    # Blocks freed are matched whenever their free comes: no growth.
    churn = [s for s in report["stacks"] if len(s["frames"]) > 1
             and s["frames"][1]["function"] == "churn_small"]
    assert all(s["outstanding_bytes"] <= 5 * 64 for s in churn)
    assert report["lost_events"] == 0


def test_without_duty_cycle_no_duty_field(procs):
    tgt = procs([target("busy_leak")])
    tgt.wait_line("ready", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    report = lt.json_lines(3, 20)[-1]
    assert "duty_cycle" not in report
    assert find_stack(report, "leak_small")["growth_bytes_per_s"] == pytest.approx(LEAK_RATE, rel=0.10)
