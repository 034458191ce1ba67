"""The allocation table (bpf/alloc_table.h): an open-addressed table in a BPF
array, filled past --max-allocs, emptied and refilled; and threads storing and
taking records of the same addresses at once.  Figures checked against the
targets' own counts."""
import os
import signal

from conftest import alloc_line, leaktop, target


def by_line(report, source):
    """Outstanding (bytes, allocations) per allocation line of `source`."""
    lines = {}
    for stack in report["stacks"]:
        frames = stack["frames"]
        if len(frames) > 1 and (frames[1]["file"] or "").endswith(source):
            b, n = lines.get(frames[1]["line"], (0, 0))
            lines[frames[1]["line"]] = (b + stack["outstanding_bytes"], n + stack["outstanding_allocs"])
    return lines


def allocs_lost(report):
    return report.get("lost_by_reason", {}).get("allocs_map_full", 0)


def test_table_filled_past_max_allocs_counts_the_rest_and_refills(procs):
    """--max-allocs 4096 and 10000 blocks held: 4096 tracked at most, each
    of the others counted lost once, the tracked ones exact (at half full,
    some buckets overflow into the next ones).  All freed, then 2048 new
    ones: the table gives the entries back (nothing of the first blocks
    stays) and tracks every new block, none lost."""
    first, second, max_allocs = 10000, 2048, 4096
    tgt = procs([target("table_fill"), "--wait", first, second])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "--max-allocs", max_allocs))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    report = lt.fresh_json(2, 15)
    fill = alloc_line("table_fill.c", "fill_block")
    held_bytes, held = by_line(report, "table_fill.c").get(fill, (0, 0))
    assert 0 < held <= max_allocs, report
    assert held_bytes == 48 * held
    assert held + allocs_lost(report) == first, (held, report.get("lost_by_reason"))
    lost_before = allocs_lost(report)

    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    report = lt.fresh_json(2, 15)
    lines = by_line(report, "table_fill.c")
    assert lines.get(fill, (0, 0)) == (0, 0), lines
    assert lines.get(alloc_line("table_fill.c", "refill_block")) == (48 * second, second), lines
    assert allocs_lost(report) == lost_before, report.get("lost_by_reason")


def test_threads_sharing_addresses_leave_exact_figures(procs):
    """8 threads hand blocks to each other (freed or realloc'd by another
    thread, their addresses reused at once) in a small table (--max-allocs
    128: 256 entries, given back and taken again thousands of times): what
    is kept is exact, the churn leaves nothing, nothing is lost."""
    tgt = procs([target("table_race"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "--max-allocs", 128))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    kept = None
    while kept is None:
        line = tgt.read_line(120)
        assert line is not None, "table_race never said kept"
        if line.startswith("kept "):
            kept = tuple(int(x) for x in line.split()[1:])
    tgt.wait_line("ready", 15)
    report = lt.fresh_json(2, 15)
    lines = by_line(report, "table_race.c")
    assert lines.get(alloc_line("table_race.c", "keep_block")) == (kept[1], kept[0]), (kept, lines)
    for site in ("churn_block", "grow_block"):
        assert lines.get(alloc_line("table_race.c", site), (0, 0)) == (0, 0), (site, lines)
    assert allocs_lost(report) == 0, report.get("lost_by_reason")
