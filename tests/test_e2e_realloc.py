"""realloc moves a block's bytes from its old address to its new one, exactly:
with the duty cycle's off-phases, and with threads racing for the addresses
realloc frees."""
import os
import signal
import time

from conftest import fdinfo, leaktop, target

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


def check_cycle(after, names=CYCLE):
    """Once all is freed, nothing of it is left."""
    assert figures(after, names) == (0, 0), [
        (s["frames"][1]["function"], s["outstanding_bytes"], s["outstanding_allocs"])
        for s in after["stacks"] if frames_named(s, names)]
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


def links_of(pid):
    """How many BPF links leaktop holds: all its probes in the on-phase."""
    return sum("link_id" in info for info in fdinfo(pid))


def wait_links(pid, wanted, timeout=60):
    deadline = time.monotonic() + timeout
    while not wanted(links_of(pid)):
        assert time.monotonic() < deadline, "the duty cycle did not switch"
        time.sleep(0.01)


def test_duty_cycle_realloc_under_way_across_switches(procs):
    """A realloc entered in an on-phase returns after a pause and a resume
    (realloc_held keeps it copying from a missing page meanwhile): its old
    block is released all the same."""
    tgt = procs([target("realloc_held"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "100", "--duty-cycle", "50"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 10)
    # Links in the on-phase: the most seen over a few switches (one per probe,
    # or per batch of them with uprobe_multi, and the exec tracepoint's).
    on, deadline = 0, time.monotonic() + 4
    while time.monotonic() < deadline:
        on = max(on, links_of(lt.pid))
        time.sleep(0.01)
    seen = []
    for _ in range(3):
        wait_links(lt.pid, lambda n: n == on)
        time.sleep(0.1)  # recording again after the re-attach
        os.kill(tgt.pid, signal.SIGHUP)
        tgt.wait_line("caught", 10)
        seen.append(figures(lt.fresh_json(1, 30), {"held_block"})[0])
        wait_links(lt.pid, lambda n: n < on)   # paused...
        wait_links(lt.pid, lambda n: n == on)  # ...and resumed, the realloc still under way
        os.kill(tgt.pid, signal.SIGHUP)
        tgt.wait_line("released", 10)
    assert any(seen), "no held block was recorded"
    os.kill(tgt.pid, signal.SIGUSR2)
    tgt.wait_line("done", 10)
    check_cycle(lt.fresh_json(3, 60), {"held_block", "moved_block"})


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
