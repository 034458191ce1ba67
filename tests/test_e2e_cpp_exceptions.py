"""C++ programs whose operator new throws must run on under leaktop: no return
probe may sit where the unwinder looks for the caller (issue 20, item 1).
cpp_throw.cc: 20 rounds of a caught bad_alloc from new[] and new T[], a
nothrow new that fails and one that succeeds; the blocks it keeps are known."""
import os
import signal

import pytest

from conftest import alloc_line, leaktop, target

ENTRY = 200  # sizeof(Entry)
ROUNDS = 20
# The target's own count, printed once every failure was caught.
TARGET_SAYS = f"caught {3 * ROUNDS} kept {ROUNDS * 2 + ROUNDS // 2}"
PROGRAMS = ["cpp_throw", "cpp_throw_jemalloc", "cpp_throw_tcmalloc"]


def check_kept_blocks(report):
    """Each call site's kept blocks, exactly; the balanced loop holds none."""
    by_line = {}
    for stack in report["stacks"]:
        frames = stack["frames"]
        if len(frames) > 1 and (frames[1]["file"] or "").endswith("cpp_throw.cc"):
            assert frames[0]["function"] == "operator new", frames
            by_line[frames[1]["line"]] = (stack["outstanding_bytes"], stack["outstanding_allocs"])
    assert by_line.get(alloc_line("cpp_throw.cc", "after_throw")) == (ROUNDS * ENTRY, ROUNDS), by_line
    assert by_line.get(alloc_line("cpp_throw.cc", "nothrow_ok")) == (ROUNDS * ENTRY, ROUNDS), by_line
    assert by_line.get(alloc_line("cpp_throw.cc", "even_rounds")) == (ROUNDS // 2 * ENTRY, ROUNDS // 2), by_line
    assert by_line.get(alloc_line("cpp_throw.cc", "balanced"), (0, 0)) == (0, 0), by_line


@pytest.mark.parametrize("program", PROGRAMS)
def test_throwing_new_attached(procs, program):
    tgt = procs([target(program), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "50"))
    lt.json_lines(1, 40)  # probes attached
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line(TARGET_SAYS, 40)  # every bad_alloc caught: no std::terminate
    tgt.wait_line("ready", 5)
    report = lt.fresh_json(3, 15)
    assert tgt.popen.poll() is None, f"target ended: status {tgt.popen.returncode}"
    check_kept_blocks(report)


@pytest.mark.parametrize("program", PROGRAMS)
def test_throwing_new_spawned(procs, program):
    lt = procs(leaktop("--json", "-i", "0.5", "-n", "50", "--", target(program)))
    lt.wait_line(TARGET_SAYS, 40)  # the target shares leaktop's stdout
    lt.wait_line("ready", 5)
    report = lt.json_lines(3, 15)[-1]
    assert "killed by signal" not in lt.stderr() and "exited" not in lt.stderr(), lt.stderr()
    check_kept_blocks(report)
