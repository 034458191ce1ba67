"""Leaving: a target that is gone before the first report still gets named
stacks (the mappings and objects were kept while it lived); quitting does not
wait for the probes to be detached one by one, and leaves none behind."""
import os
import re
import signal
import time

from conftest import TARGET_SOURCES, alloc_line, find_stack, leaktop, target

BRIEF = {  # brief.c: function -> (marker, outstanding bytes at exit)
    "keep_blocks": ("brief_keep_blocks", 2500 * 100),
    "drip": ("brief_drip", 40 * 64),
    "last_block": ("brief_last_block", 777),
}


def check_brief_frames(stack, function, marker):
    caller = stack["frames"][1]
    assert caller["function"] == function, stack["frames"]
    assert caller["file"].endswith("/brief.c"), caller
    assert caller["line"] == alloc_line("brief.c", marker), caller
    assert caller["object"].endswith("/brief"), caller
    assert stack["frames"][0]["object"].endswith("libc.so.6"), stack["frames"][0]
    # Down to main: the whole stack, not its first frame only.
    assert any(f["function"] == "main" for f in stack["frames"][2:]), stack["frames"]


def test_brief_program_json_and_folded(procs, tmp_path):
    """The target exits about 1 s in; the only report is the final one."""
    folded = tmp_path / "out.folded"
    lt = procs(leaktop("--json", "-i", "5", "-n", "50", "--folded", folded,
                       "--", target("brief")))
    reports = lt.all_json(30)
    assert lt.wait(5) == 0
    assert "exited with status 0" in lt.stderr()
    assert len(reports) == 1, "the target outlived the first interval"
    final = reports[0]
    for function, (marker, size) in BRIEF.items():
        stack = find_stack(final, function)
        assert stack["outstanding_bytes"] == size
        check_brief_frames(stack, function, marker)
    lines = folded.read_text().splitlines()
    for function, (marker, size) in BRIEF.items():
        label = f";{function} (brief.c:{alloc_line('brief.c', marker)});"
        assert [line for line in lines if label in line and line.endswith(f" {size}")], \
            (label, lines)


def test_brief_program_text(procs):
    lt = procs(leaktop("-b", "-i", "5", "-n", "50", "--", target("brief")))
    assert lt.wait(30) == 0
    text = "\n".join(iter(lambda: lt.read_line(1), None))
    assert text.count("outstanding ") == 1, text
    for function, (marker, _) in BRIEF.items():
        assert f"{function} (brief.c:{alloc_line('brief.c', marker)})" in text, text


def test_brief_python_program(procs):
    """Python frames are named from code objects read while the script lived,
    also in a stack first seen as it exits (its code objects were read for
    another stack)."""
    script = str(TARGET_SOURCES / "py_brief.py")
    lt = procs(leaktop("--json", "-i", "5", "-n", "50", "--", "/usr/bin/python3.11", script))
    reports = lt.all_json(30)
    assert lt.wait(5) == 0
    assert len(reports) == 1, "the script outlived the first interval"
    held = {}
    for stack in reports[0]["stacks"]:
        python = [f for f in stack["frames"] if f["kind"] == "python"]
        if len(python) == 2 and all(f["file"] == script for f in python):
            where = [(f["function"], f["line"]) for f in python]
            held[tuple(where)] = held.get(tuple(where), 0) + stack["outstanding_bytes"]
    inner = ("keep_big", alloc_line("py_brief.py", "py_brief_big"))
    # bytes(200000) is 200,033 bytes with its header and final NUL.
    assert held == {
        (inner, ("<module>", alloc_line("py_brief.py", "py_brief_first"))): 20 * 200033,
        (inner, ("<module>", alloc_line("py_brief.py", "py_brief_last"))): 5 * 200033,
    }, reports[0]["stacks"][:4]
