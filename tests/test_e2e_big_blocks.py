"""Blocks of 4 GiB and more: their sizes live beside the allocation record."""
import os
import signal

from conftest import attach_after_ready, caller_name, find_stack


def test_blocks_of_4_gib_and_more_are_exact(procs):
    """Sizes that do not fit the allocation record word are kept beside it:
    exact, and taken off again when the block is freed."""
    report, tgt, lt = attach_after_ready(procs, "big_block")
    assert find_stack(report, "huge")["outstanding_bytes"] == (5 << 30) + 123
    assert find_stack(report, "just_under")["outstanding_bytes"] == (4 << 30) - 2
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("freed", 15)
    report = lt.fresh_json(3, 15)
    assert all(s["outstanding_bytes"] == 0 for s in report["stacks"] if caller_name(s) == "huge")
    assert find_stack(report, "just_under")["outstanding_bytes"] == (4 << 30) - 2
