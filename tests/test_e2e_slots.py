"""Stack slots come back: a target whose call paths keep changing uses up the
kernel's stack slots many times over (tests/targets/turnover.c), and a leak
that starts late, on a stack of its own, is still seen at its true rate."""
import os
import signal
import time

from conftest import find_stack, leaktop, target

MAX_STACKS = 16384
WINDOW_S = 4
INTERVAL_S = 0.5


def least_squares_slope(points):
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    num = sum((t - mt) * (v - mv) for t, v in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return num / den


def test_late_leak_is_seen_after_slots_are_used_up_many_times(procs):
    tgt = procs([target("turnover"), "--wait", "--leak-after", "8", "--paths-per-s", "4000"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", INTERVAL_S, "--window", WINDOW_S, "-n", "10",
                       "--max-stacks", MAX_STACKS))
    lt.json_lines(1, 15)  # probes are live
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)

    # The target's own account: (time, bytes leaked, paths made so far).
    leaked = []
    deadline = time.monotonic() + 120
    while not (leaked and leaked[-1][2] >= 3 * MAX_STACKS and
               leaked[-1][0] - leaked[0][0] >= WINDOW_S + 2):
        line = tgt.read_line(max(0.01, deadline - time.monotonic()))
        assert line is not None, "the target stopped reporting"
        if not line.startswith("leaked "):
            continue  # paths made before the leak
        _, bytes_, at, paths = line.split()
        leaked.append((float(at), int(bytes_), int(paths)))

    lt.drain()
    reports = lt.json_lines(4, 30)
    report = reports[-1]
    # Collect the target's lines up to the report's time.
    while leaked[-1][0] < report["time"]:
        line = tgt.read_line(5)
        assert line is not None
        _, bytes_, at, paths = line.split()
        leaked.append((float(at), int(bytes_), int(paths)))

    stack = find_stack(report, "leak_late")
    in_window = [(t, b) for t, b, _ in leaked if report["time"] - WINDOW_S <= t <= report["time"]]
    true_rate = least_squares_slope(in_window)
    assert abs(stack["growth_bytes_per_s"] - true_rate) <= 0.15 * true_rate, (
        stack["growth_bytes_per_s"], true_rate, in_window)
    # Tracked exactly from its first block: what the target leaked by then
    # (its last line before the report, give or take the blocks since).
    before = max(b for t, b, _ in leaked if t <= report["time"])
    assert before <= stack["outstanding_bytes"] <= before + 11 * 8192, (stack, before)
    # Nothing lost over the last intervals: every new stack found a slot.
    assert reports[-1]["lost_events"] == reports[0]["lost_events"], [
        (r["lost_events"], r.get("lost_by_reason")) for r in reports]


def path_of(folded_frames):
    """The path number of a slot_race stack (folded: outermost frame first):
    the call site taken at each level is a bit, the outermost one bit 0."""
    sites = [f.split(" ")[0] for f in folded_frames if f.split(" ")[0] in ("zero", "one")]
    return sum(1 << depth for depth, site in enumerate(sites) if site == "one") if len(sites) == 13 else None


def test_slots_recycled_under_racing_threads_keep_exact_figures(procs, tmp_path):
    # 4 threads on 2^13 paths (a sliding window of them, shared), freeing each
    # other's blocks, through 2048 slots: every slot serves several stacks.
    max_stacks = 2048
    folded = tmp_path / "race.folded"
    tgt = procs([target("slot_race"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.1", "-n", "3", "--max-stacks", max_stacks,
                       "--folded", folded))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    kept = {}
    while (line := tgt.read_line(120)) is not None and not line.startswith("done"):
        _, path, _, bytes_ = line.split()
        kept[int(path)] = int(bytes_)
    assert line is not None, "the target did not finish"
    assert int(line.split()[2]) >= 3 * max_stacks  # stacks made: several per slot
    assert len(kept) > 100

    lt.fresh_json(2, 30)  # the target holds still now
    os.kill(lt.pid, signal.SIGUSR1)  # folded stacks at the next interval
    report = lt.fresh_json(2, 30)
    assert report["lost_events"] == 0  # every stack found a slot: the figures are whole
    got, unknown = {}, []
    for row in folded.read_text().splitlines():
        frames, bytes_ = row.rsplit(" ", 1)
        frames = frames.split(";")
        if not any(f.startswith("descend ") for f in frames):
            continue  # the threads' own (glibc's thread-local storage)
        path = path_of(frames)
        if path is None:
            unknown.append(row)
        else:
            got[path] = got.get(path, 0) + int(bytes_)
    assert not unknown
    # Each path's block size is its own: equal bytes are equal block counts.
    assert got == kept, sorted((p, kept.get(p), got.get(p)) for p in set(kept) | set(got)
                               if kept.get(p) != got.get(p))[:20]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_memory_follows_the_stacks_alive_not_all_those_ever_seen(procs):
    # 2^20 call paths, 8000 new ones a second, each holding a block for half a
    # second: every stack is seen, held, then let go.  With room for all of
    # them (--max-stacks 262144), leaktop must still let go of their frames
    # and history: its memory stays flat while the stacks seen triple.
    live = 4000
    tgt = procs([target("turnover"), "--wait", "--leak-after", "100000", "--paths-per-s", "8000",
                 "--bits", "20", "--live", live])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "--window", "2", "-n", "1",
                       "--max-stacks", 262144))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)

    def rss_once_made(paths):
        while (line := tgt.read_line(120)) is not None:
            if int(line.split()[1]) >= paths:
                return rss_kib(lt.pid)
        raise AssertionError("the target stopped reporting")

    middle = rss_once_made(80000)  # past the first slots given back
    late = rss_once_made(240000)
    assert late - middle < 4096, (middle, late)  # KiB
    report = lt.fresh_json(1, 30)
    assert report["outstanding_allocs"] >= 0.9 * live  # the stacks alive are tracked


def test_slots_of_an_exec_d_image_come_back(procs):
    # 600 stacks held, an exec, 600 new stacks held: with 1000 slots the new
    # image's fit only in the old image's slots.
    tgt = procs([target("exec_stacks"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.2", "-n", "1000", "--max-stacks", 1000))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    line = tgt.read_line(30)
    assert line and line.startswith("kept "), line
    report = lt.fresh_json(2, 30)
    held = sum(s["outstanding_bytes"] for s in report["stacks"]
               if any(f["function"] == "descend" for f in s["frames"]))
    assert held == int(line.split()[1])
    assert report["lost_events"] == 0
