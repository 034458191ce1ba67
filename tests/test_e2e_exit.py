"""Leaving: a target that is gone before the first report still gets named
stacks (they were symbolized while it lived); quitting does not wait for the
uprobes to be removed one by one, and leaves none behind."""
import os
import re
import signal
import time

from conftest import (TARGET_SOURCES, alloc_line, attach_after_ready, bpftool_json, fdinfo, find_stack,
                      leaktop, target)

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


# Quitting: ~100 uprobes took leaktop 10 s to remove one by one on an idle VM
# (a minute under load); they now go in a few uprobe_multi links, in well
# under a second.  The bound is loose so that a loaded machine passes, and
# still far below what removing them one by one takes.
QUIT_BOUND_S = 4


def uprobe_breakpoints(pid):
    """Addresses in the target's executable mappings of files where its memory
    holds an int3 (0xcc) that the file does not: uprobes in place."""
    found = []
    mem = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        with open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                if len(fields) < 6 or "x" not in fields[1] or not fields[5].startswith("/"):
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                with open(f"/proc/{pid}/root{fields[5].rstrip()}", "rb") as f:
                    on_disk = os.pread(f.fileno(), end - start, int(fields[2], 16))
                live = os.pread(mem, len(on_disk), start)
                at = live.find(b"\xcc")
                while at >= 0:
                    if on_disk[at] != 0xcc:
                        found.append(start + at)
                    at = live.find(b"\xcc", at + 1)
    finally:
        os.close(mem)
    return found


def links_of(pid):
    """Ids of the BPF links process pid holds."""
    return {int(info["link_id"]) for info in fdinfo(pid) if "link_id" in info}


def links_alive(ids):
    return ids & {link["id"] for link in bpftool_json("link", "show")}


def probe_count(lt):
    match = re.search(r": (\d+) probes on (.*) \(", lt.stderr())
    assert match, lt.stderr()
    return int(match.group(1)), match.group(2)


def check_many_probes(lt):
    probes, objects = probe_count(lt)
    assert probes >= 90, objects
    for name in ("libc.so", "libstdc++.so", "libjemalloc.so"):
        assert name in objects


def test_quit_attached_with_many_probes(procs):
    tgt = procs([target("jemalloc"), "--wait"])
    tgt.wait_line("waiting", 10)
    assert not uprobe_breakpoints(tgt.pid)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 30)
    check_many_probes(lt)
    assert len(uprobe_breakpoints(tgt.pid)) >= 50  # the check sees them
    links = links_of(lt.pid)
    assert 0 < len(links) < 20  # one per object and program, not one per probe
    lt.drain()
    sent = time.monotonic()
    os.kill(lt.pid, signal.SIGINT)
    lt.wait(60)
    took = time.monotonic() - sent
    assert lt.popen.returncode == 0
    assert took < QUIT_BOUND_S, f"quitting took {took:.1f} s"
    assert lt.json_lines(1, 5)  # a final report
    assert not links_alive(links)
    assert not uprobe_breakpoints(tgt.pid), "uprobes left in the target"
    assert tgt.popen.poll() is None


def test_quit_when_spawned_target_exits(procs):
    lt = procs(leaktop("--json", "-i", "0.5", "--", target("jemalloc")))
    lt.wait_line("ready", 30)  # the target's own output
    lt.json_lines(1, 30)
    check_many_probes(lt)
    child = lt.children()
    assert len(child) == 1
    links = links_of(lt.pid)
    assert links
    died = time.monotonic()
    os.kill(child[0], signal.SIGKILL)
    lt.wait(60)
    took = time.monotonic() - died
    assert lt.popen.returncode == 0
    assert took < QUIT_BOUND_S, f"leaktop returned {took:.1f} s after its target died"
    assert "was killed by signal 9" in lt.stderr()
    assert not links_alive(links)


def test_perf_event_uprobes_without_uprobe_multi(procs):
    """The fallback for kernels before uprobe_multi: one link per uprobe."""
    env = dict(os.environ, LEAKTOP_NO_UPROBE_MULTI="1")
    report, tgt, lt = attach_after_ready(procs, "exact", intervals_after=1, env=env, attach_timeout=60)
    assert find_stack(report, "keep_blocks")["outstanding_bytes"] == 100000
    links = links_of(lt.pid)
    # One per uprobe, and the tracepoints' (exec; the unwinder's code-change watcher).
    assert len(links) == probe_count(lt)[0] + 2
    os.kill(lt.pid, signal.SIGINT)
    assert lt.wait(300) == 0
    assert not links_alive(links)
    assert not uprobe_breakpoints(tgt.pid)
