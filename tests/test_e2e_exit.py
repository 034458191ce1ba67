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
    """Python frames are named from code objects read while the script lived."""
    script = str(TARGET_SOURCES / "py_brief.py")
    lt = procs(leaktop("--json", "-i", "5", "-n", "50", "--", "/usr/bin/python3.11", script))
    reports = lt.all_json(30)
    assert lt.wait(5) == 0
    assert len(reports) == 1, "the script outlived the first interval"
    line = alloc_line("py_brief.py", "py_brief_big")
    held = 0
    for stack in reports[0]["stacks"]:
        python = [f for f in stack["frames"] if f["kind"] == "python"]
        if python and python[0]["file"] == script and python[0]["line"] == line:
            assert python[0]["function"] == "keep_big"
            held += stack["outstanding_bytes"]
    # bytes(200000) asks malloc for the object header too.
    assert 20 * 200000 <= held <= 20 * 201000, reports[0]["stacks"][:3]
