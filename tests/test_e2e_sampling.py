"""Byte sampling (-s): scaled estimates within what the method guarantees (4 sigma)
of the exact figures per stack, frees of sampled blocks matched exactly, and the rate in the JSON."""
import math

from conftest import attach_after_ready, find_stack, spawn_after_ready

SAMPLE_BYTES = 2048
# caller -> (exact outstanding bytes, allocations); tests/targets/sampled.c
EXPECTED = {
    "keep_small": (100000 * 64, 100000),
    "keep_medium": (5000 * 1000, 5000),
    "keep_large": (50 * 100000, 50),
}


def bounds(count, size):
    """4 standard deviations of the estimates for `count` blocks of `size` bytes:
    each is sampled with p = 1 - exp(-size/S) and stands for size/p bytes and
    1/p allocations, so the variances are count size^2 (1-p)/p and count (1-p)/p.
    (4 sigma: six checks per run must not fail by chance.)  The fixed-point
    weights round to within 0.5%."""
    p = 1 - math.exp(-size / SAMPLE_BYTES)
    sigma_bytes = math.sqrt(count * size * size * (1 - p) / p)
    sigma_count = math.sqrt(count * (1 - p) / p)
    return (max(4 * sigma_bytes, 0.005 * count * size), max(4 * sigma_count, 0.005 * count))


def test_sampled_estimates_are_close_to_exact(procs):
    report, _ = spawn_after_ready(procs, "sampled", "-s", str(SAMPLE_BYTES), "-n", "50")
    assert report["sample_bytes"] == SAMPLE_BYTES
    assert report["lost_events"] == 0
    for caller, (size, count) in EXPECTED.items():
        stack = find_stack(report, caller)
        bytes_bound, count_bound = bounds(count, size // count)
        assert abs(stack["outstanding_bytes"] - size) <= bytes_bound, (caller, stack, bytes_bound)
        assert abs(stack["outstanding_allocs"] - count) <= count_bound, (caller, stack, count_bound)
    # 12.8 MB went through churn and came back: what its samples added, their
    # frees took off again, to the byte.
    for stack in report["stacks"]:
        if len(stack["frames"]) > 1 and stack["frames"][1]["function"] == "churn":
            assert stack["outstanding_bytes"] == 0 and stack["outstanding_allocs"] == 0, stack


def test_exact_mode_says_so(procs):
    report, _ = spawn_after_ready(procs, "sampled", "-n", "50")  # room for cut-short stacks
    assert report["sample_bytes"] == 0
    assert find_stack(report, "keep_small")["outstanding_bytes"] == 100000 * 64


def test_unsampled_operator_new_s_own_malloc_is_not_an_allocation_of_its_own(procs):
    # -s 138: operator new of cpp.cc's 96-byte Entry is left out of the
    # sample half the time.  Its malloc inside is still part of the call
    # (told apart by operator new's return address, read at its entry
    # sampled or not): never sampled on its own, under operator new's frame.
    report, _, _ = attach_after_ready(procs, "cpp", "-s", "138", "-n", "100",
                                      target_args=["--objects", "64"])
    sampled = find_stack(report, "leaky::Cache::store_objects", allocator="operator new")
    assert sampled["outstanding_allocs"] > 0  # the sample holds some of the 64
    inside = [s for s in report["stacks"] if len(s["frames"]) > 1
              and "libstdc++" in (s["frames"][1]["object"] or "")]
    assert not inside, [[f["function"] for f in s["frames"][:3]] for s in inside]
