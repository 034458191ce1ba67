"""Threads allocating and freeing at the same time (tests/targets/threads_concurrent.c):
per-thread state, slots and counters under contention, checked against what the
target knows it keeps: 4 threads x 2000 rounds x 2 blocks of 96 bytes; the churn,
on the same size classes, is all freed again."""
import math

import pytest

from conftest import alloc_line, attach_after_ready, spawn_after_ready

KEPT, SIZE = 4 * 2000 * 2, 96
CHURN_SITES = ["churn_malloc", "churn_calloc", "churn_memalign"]
SAMPLE_BYTES = 4096


def by_line(report):
    """Outstanding (bytes, allocations) per line of threads_concurrent.c."""
    lines = {}
    for stack in report["stacks"]:
        frames = stack["frames"]
        if len(frames) > 1 and (frames[1]["file"] or "").endswith("threads_concurrent.c"):
            bytes_, allocs = lines.get(frames[1]["line"], (0, 0))
            lines[frames[1]["line"]] = (bytes_ + stack["outstanding_bytes"],
                                        allocs + stack["outstanding_allocs"])
    return lines


def check_exact(report):
    lines = by_line(report)
    assert lines.get(alloc_line("threads_concurrent.c", "keep_block")) == (KEPT * SIZE, KEPT), lines
    for site in CHURN_SITES:
        assert lines.get(alloc_line("threads_concurrent.c", site), (0, 0)) == (0, 0), (site, lines)
    # Positive control: the churn went through the probes (hits counted).
    assert report["outstanding_allocs"] >= KEPT


def test_concurrent_threads_attached(procs):
    report, tgt, _ = attach_after_ready(procs, "threads_concurrent", "-n", "50")
    check_exact(report)


def test_concurrent_threads_spawned(procs):
    report, _ = spawn_after_ready(procs, "threads_concurrent", "-n", "50")
    check_exact(report)


@pytest.mark.parametrize("mode", ["attach", "spawn"])
def test_concurrent_threads_sampled(procs, mode):
    args = ("-s", str(SAMPLE_BYTES), "-n", "50")
    if mode == "attach":
        report, _, _ = attach_after_ready(procs, "threads_concurrent", *args)
    else:
        report, _ = spawn_after_ready(procs, "threads_concurrent", *args)
    lines = by_line(report)
    # Each 96-byte block is sampled with p = 1 - exp(-96/4096) and stands for
    # 96/p bytes: the estimate's variance is KEPT * 96^2 (1 - p) / p.
    p = 1 - math.exp(-SIZE / SAMPLE_BYTES)
    sigma = math.sqrt(KEPT * SIZE * SIZE * (1 - p) / p)
    kept_bytes, _ = lines.get(alloc_line("threads_concurrent.c", "keep_block"), (0, 0))
    assert abs(kept_bytes - KEPT * SIZE) <= 4 * sigma, (kept_bytes, KEPT * SIZE, sigma)
    # Frees of sampled blocks are matched exactly: churn comes back to 0.
    for site in CHURN_SITES:
        assert lines.get(alloc_line("threads_concurrent.c", site), (0, 0)) == (0, 0), (site, lines)
