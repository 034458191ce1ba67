"""Byte sampling (-s): scaled estimates within 10% of the exact figures per
stack, frees of sampled blocks matched exactly, and the rate in the JSON."""
from conftest import find_stack, spawn_after_ready

SAMPLE_BYTES = 2048
# caller -> (exact outstanding bytes, allocations); tests/targets/sampled.c
EXPECTED = {
    "keep_small": (100000 * 64, 100000),
    "keep_medium": (5000 * 1000, 5000),
    "keep_large": (50 * 100000, 50),
}


def within(estimate, exact, tolerance=0.10):
    return abs(estimate - exact) <= tolerance * exact


def test_sampled_estimates_are_close_to_exact(procs):
    report, _ = spawn_after_ready(procs, "sampled", "-s", str(SAMPLE_BYTES), "-n", "50")
    assert report["sample_bytes"] == SAMPLE_BYTES
    assert report["lost_events"] == 0
    for caller, (size, count) in EXPECTED.items():
        stack = find_stack(report, caller)
        assert within(stack["outstanding_bytes"], size), (caller, stack["outstanding_bytes"], size)
        assert within(stack["outstanding_allocs"], count), (caller, stack["outstanding_allocs"], count)
    # 12.8 MB went through churn and came back: what its samples added, their
    # frees took off again, to the byte.
    for stack in report["stacks"]:
        if len(stack["frames"]) > 1 and stack["frames"][1]["function"] == "churn":
            assert stack["outstanding_bytes"] == 0 and stack["outstanding_allocs"] == 0, stack


def test_exact_mode_says_so(procs):
    report, _ = spawn_after_ready(procs, "sampled", "-n", "5")
    assert report["sample_bytes"] == 0
    assert find_stack(report, "keep_small")["outstanding_bytes"] == 100000 * 64
