"""realloc moves a block's bytes from its old address to its new one, exactly:
with the duty cycle's off-phases, and with threads racing for the addresses
realloc frees."""
import os
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


def wait_target_lines(proc, timeout, last="ready"):
    """The lines `proc` prints up to `last`, leaktop's JSON lines skipped."""
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.read_line(deadline - time.monotonic())
        assert line is not None, f"ended early: {proc.stderr()}"
        if line.startswith("{"):
            continue
        lines.append(line)
        if line == last:
            return lines
    raise AssertionError(f"no line {last!r} within {timeout}s")


# --- --duty-cycle: reallocs in the off-phase must still release old blocks ---

CYCLE = {"make_blocks", "grow_blocks"}


def check_cycle(after):
    # The rounds were traced (the stack is listed once a block of it was
    # recorded)...
    assert any(frames_named(s, {"make_blocks"}) for s in after["stacks"]), "no round was traced"
    # ...and once all are freed, nothing of them is left.
    assert figures(after, CYCLE) == (0, 0), [
        (s["frames"][1]["function"], s["outstanding_bytes"], s["outstanding_allocs"])
        for s in after["stacks"] if frames_named(s, CYCLE)]
    assert after["lost_events"] == 0


def stop_rounds(lt, pid=None):
    """Lets realloc_cycle (pid, or leaktop's child) run until leaktop has
    recorded its blocks and seen a few more duty cycles, then ends its rounds."""
    deadline = time.monotonic() + 120
    while not any(frames_named(s, {"make_blocks"}) for s in lt.json_lines(1, 30)[0]["stacks"]):
        assert time.monotonic() < deadline, "no round traced in 120 s"
    lt.json_lines(6, 60)  # 3 s at least, phases switching in the rounds
    os.kill(pid or lt.children()[0], signal.SIGUSR2)


def test_duty_cycle_realloc_leaves_nothing_attach(procs):
    tgt = procs([target("realloc_cycle"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "100", "--duty-cycle", "50"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    stop_rounds(lt, tgt.pid)
    tgt.wait_line("ready", 60)
    after = lt.fresh_json(3, 60)
    assert 0 < after["duty_cycle"] < 1
    check_cycle(after)


def test_duty_cycle_realloc_leaves_nothing_spawn(procs):
    lt = procs(leaktop("--json", "-i", "0.5", "-n", "100", "--duty-cycle", "50", "--",
                       target("realloc_cycle")))
    stop_rounds(lt)
    wait_target_lines(lt, 60)
    after = lt.json_lines(3, 60)[-1]
    assert 0 < after["duty_cycle"] < 1
    check_cycle(after)


# --- threads racing: realloc's old address handed to another thread ---

RACE = {"small_block", "moved_block", "kept_block"}


def check_race(report, kept_line):
    """Exactly the keepers' blocks, on their stack; none of the movers'."""
    _, count, size = kept_line.split()
    got = [(s["frames"][1]["function"], s["outstanding_bytes"], s["outstanding_allocs"])
           for s in report["stacks"] if frames_named(s, RACE)]
    assert figures(report, {"kept_block"}) == (int(size), int(count)), got
    assert figures(report, {"small_block", "moved_block"}) == (0, 0), got
    assert report["lost_events"] == 0


def test_realloc_race_exact_attach(procs):
    tgt = procs([target("realloc_race"), "--wait"], env=RACE_ENV)
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "100"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    lines = wait_target_lines(tgt, 300)
    kept = [line for line in lines if line.startswith("kept ")][-1]
    check_race(lt.fresh_json(2, 30), kept)


def test_realloc_race_exact_spawn(procs):
    lt = procs(leaktop("--json", "-i", "0.5", "-n", "100", "--", target("realloc_race")),
               env=RACE_ENV)
    lines = wait_target_lines(lt, 300)
    kept = [line for line in lines if line.startswith("kept ")][-1]
    check_race(lt.fresh_json(2, 30), kept)
