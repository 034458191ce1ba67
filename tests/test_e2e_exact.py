"""Exact outstanding bytes per stack for every glibc allocation function, in spawn
and attach mode, with the right caller, file and line."""
import os

import pytest

from conftest import alloc_line, attach_after_ready, caller_name, find_stack, spawn_after_ready

# caller function -> (allocator frame, outstanding bytes, outstanding allocations)
EXPECTED = {
    "keep_blocks": ("malloc", 100 * 1000, 100),
    "grow_buffer": ("realloc", 65536, 1),
    "keep_calloc": ("calloc", 10 * 10 * 100, 10),
    "keep_aligned": ("posix_memalign", 5 * 4096, 5),
    "keep_valloc": ("valloc", 5000, 1),
    "keep_pvalloc": ("pvalloc", 6000, 1),       # requested bytes, not the rounded page
    "keep_reallocarray": ("reallocarray", 8000, 1),
    "keep_failed_realloc": ("malloc", 4321, 1),  # the realloc failed: the block stays
    # glibc's memalign and aligned_alloc are one function: probed once, either name.
    "keep_memalign": (("memalign", "aligned_alloc"), 3000, 1),
    "keep_aligned_alloc": (("memalign", "aligned_alloc"), 2048, 1),
}

# Stacks that must hold nothing: freed, failed, or freed by realloc(p, 0).
EMPTY = ["realloc_to_zero", "failed_malloc", "churn", "allocated_before_attach"]


def check_exact(report):
    for caller, (allocator, size, count) in EXPECTED.items():
        stack = find_stack(report, caller)
        frames = stack["frames"]
        allowed = allocator if isinstance(allocator, tuple) else (allocator,)
        assert frames[0]["function"] in allowed, (caller, frames[0])
        assert frames[0]["object"].endswith("libc.so.6")
        assert stack["outstanding_bytes"] == size, caller
        assert stack["outstanding_allocs"] == count, caller
        assert frames[1]["file"].endswith("exact.c"), frames[1]
        assert frames[1]["line"] == alloc_line("exact.c", caller), caller
        assert frames[1]["object"].endswith("/exact")
        assert frames[1]["kind"] == "native"
    for stack in report["stacks"]:
        assert stack["outstanding_bytes"] >= 0 and stack["outstanding_allocs"] >= 0
        if stack["frames"][1:] and stack["frames"][1]["function"] in EMPTY:
            assert stack["outstanding_bytes"] == 0, stack
    for caller in EMPTY:
        assert not [s for s in report["stacks"]
                    if len(s["frames"]) > 1 and s["frames"][1]["function"] == caller
                    and s["outstanding_bytes"] != 0]


def test_exact_spawn(procs):
    report, _ = spawn_after_ready(procs, "exact", "-n", "50")
    check_exact(report)
    # Spawn mode sees the block made before the target's main work too... and its free.
    assert report["lost_events"] == 0


def test_exact_attach(procs):
    report, _, _ = attach_after_ready(procs, "exact", "-n", "50")
    check_exact(report)
    assert report["lost_events"] == 0
    # Everything outstanding is accounted for by the stacks (stdio's buffer was
    # allocated before attaching, so only our stacks remain).
    known = sum(size for _, size, _ in EXPECTED.values())
    assert report["outstanding_bytes"] == known


def test_churn_shows_no_growth(procs):
    report, lt = spawn_after_ready(procs, "exact", "-n", "50", "--window", "2", intervals_after=5,
                                   target_args=["--keep-churning"])
    churn = [s for s in report["stacks"] if s["frames"][1]["function"] == "churn"]
    for stack in churn:
        assert abs(stack["growth_bytes_per_s"]) < 1000, stack
        assert stack["outstanding_bytes"] < 4096
    for caller in EXPECTED:
        assert find_stack(report, caller)["growth_bytes_per_s"] == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize("attach_path", ["uprobe_multi", "perf_event"])
def test_vfork_child_is_not_the_target(procs, attach_path):
    """A vfork child shares the target's memory but is another process: its
    allocations are not counted, whichever way the probes are attached (the
    kernel filters uprobe_multi links by thread group from 6.12, and leaktop
    checks the process itself where it does not)."""
    env = dict(os.environ, LEAKTOP_NO_UPROBE_MULTI="1" if attach_path == "perf_event" else "0")
    report, _, _ = attach_after_ready(procs, "vfork_child", env=env, attach_timeout=60)
    parent = find_stack(report, "parent_keeps")
    assert (parent["outstanding_bytes"], parent["outstanding_allocs"]) == (10 * 1000, 10)
    assert parent["frames"][1]["line"] == alloc_line("vfork_child.c", "parent_keeps")
    assert not [s for s in report["stacks"] if caller_name(s) == "child_allocates"]
    assert report["outstanding_bytes"] == 10 * 1000
