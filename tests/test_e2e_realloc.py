"""realloc moves a block's bytes from its old address to its new one, exactly:
with the duty cycle's off-phases, and with threads racing for the addresses
realloc frees."""
import json
import os
import queue
import signal
import time

from conftest import leaktop, target

# One arena, no per-thread cache: a block one thread frees, or realloc moves
# away from, is the next block another thread gets.
RACE_ENV = dict(os.environ, GLIBC_TUNABLES="glibc.malloc.tcache_count=0:glibc.malloc.arena_max=1")


def frames_named(stack, names):
    return any(frame["function"] in names for frame in stack["frames"])


def figures(report, names):
    """Outstanding bytes and allocations of the stacks through any of `names`."""
    stacks = [s for s in report["stacks"] if frames_named(s, names)]
    return (sum(s["outstanding_bytes"] for s in stacks),
            sum(s["outstanding_allocs"] for s in stacks))


def queued_json(proc):
    """The JSON lines leaktop printed so far (a spawned target's lines skipped)."""
    reports = []
    while True:
        try:
            line = proc.lines.get_nowait()
        except queue.Empty:
            return reports
        if line is None:
            proc.lines.put(None)
            return reports
        if line.startswith("{"):
            reports.append(json.loads(line))


def wait_target_lines(proc, timeout, last="ready"):
    """The lines `proc` prints up to `last` (JSON lines of leaktop kept aside)."""
    lines, reports = [], []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.read_line(deadline - time.monotonic())
        assert line is not None, f"ended early: {proc.stderr()}"
        if line.startswith("{"):
            reports.append(json.loads(line))
            continue
        lines.append(line)
        if line == last:
            return lines, reports
    raise AssertionError(f"no line {last!r} within {timeout}s")


# --- --duty-cycle: reallocs in the off-phase must still release old blocks ---

CYCLE = {"make_blocks", "grow_blocks"}


def check_cycle(before, after):
    # The blocks were seen while the rounds ran (the test is not vacuous)...
    assert any(figures(r, CYCLE)[0] > 0 for r in before), ("no round was traced", [figures(r, CYCLE) for r in before], after)
    # ...and once all are freed, nothing of them is left.
    assert figures(after, CYCLE) == (0, 0), [
        (s["frames"][1]["function"], s["outstanding_bytes"], s["outstanding_allocs"])
        for s in after["stacks"] if frames_named(s, CYCLE)]
    assert after["lost_events"] == 0


def test_duty_cycle_realloc_leaves_nothing_attach(procs):
    tgt = procs([target("realloc_cycle"), "4", "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "100", "--duty-cycle", "50"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 120)
    before = queued_json(lt)
    after = lt.json_lines(3, 30)[-1]
    assert 0 < after["duty_cycle"] < 1
    check_cycle(before, after)


def test_duty_cycle_realloc_leaves_nothing_spawn(procs):
    lt = procs(leaktop("--json", "-i", "0.5", "-n", "100", "--duty-cycle", "50", "--",
                       target("realloc_cycle"), "4"))
    _, before = wait_target_lines(lt, 120)
    after = lt.json_lines(3, 30)[-1]
    check_cycle(before, after)


# --- threads racing: realloc's old address handed to another thread ---

RACE = {"small_block", "moved_block", "kept_block"}


def check_race(report, kept_line):
    _, count, size = kept_line.split()
    assert figures(report, RACE) == (int(size), int(count)), [
        (s["frames"][1]["function"], s["outstanding_bytes"], s["outstanding_allocs"])
        for s in report["stacks"] if frames_named(s, RACE)]
    assert report["lost_events"] == 0


def test_realloc_race_exact_attach(procs):
    tgt = procs([target("realloc_race"), "--wait"], env=RACE_ENV)
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "100"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    lines, _ = wait_target_lines(tgt, 300)
    kept = [line for line in lines if line.startswith("kept ")][-1]
    check_race(lt.fresh_json(2, 30), kept)


def test_realloc_race_exact_spawn(procs):
    lt = procs(leaktop("--json", "-i", "0.5", "-n", "100", "--", target("realloc_race")),
               env=RACE_ENV)
    lines, _ = wait_target_lines(lt, 300)
    kept = [line for line in lines if line.startswith("kept ")][-1]
    check_race(lt.fresh_json(2, 30), kept)
