"""CPython: Python frames, and Python allocations checked against tracemalloc.

tracemalloc runs in a separate run of the same deterministic script
(tests/targets/py_alloc.py): in the traced process its own bookkeeping would
be counted by leaktop too."""
import collections
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import TARGET_SOURCES, alloc_line, leaktop, target
from pythons import DEBIAN, pyenv, pyenv_params, shared_python

SCRIPT = str(TARGET_SOURCES / "py_alloc.py")
SMALL = ["dicts", "lists", "strings"]
BIG = ["big", "deep", "thread_a", "thread_b"]



def tracemalloc_lines(python):
    """tracemalloc's outstanding bytes per line of the script after its work."""
    out = subprocess.run([str(python), SCRIPT, "--tracemalloc"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    return {int(line): size for line, size in json.loads(out).items()}


def innermost_python(stack):
    for frame in stack["frames"]:
        if frame["kind"] == "python":
            return frame
    return None


def per_line(report, allocator=None):
    """leaktop's outstanding bytes per script line (innermost Python frame)."""
    lines = collections.Counter()
    for stack in report["stacks"]:
        frame = innermost_python(stack)
        if frame and frame["file"] == SCRIPT and (
                allocator is None or stack["frames"][0]["function"] == allocator):
            lines[frame["line"]] += stack["outstanding_bytes"]
    return lines


def report_after_work(procs, lt, tgt_lines):
    """The report two intervals after the script said ready."""
    deadline_lines = tgt_lines
    while True:
        line = deadline_lines.read_line(180)
        assert line is not None, f"script ended early; leaktop: {lt.stderr()}"
        if line == "ready":
            break
    return lt.fresh_json(3, 30)


def attach_to_script(procs, python, *leaktop_args, launcher=(), env=None):
    tgt = procs([*launcher, python, SCRIPT, "--wait"], env=env)
    tgt.wait_line("waiting", 20)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "500", *leaktop_args))
    lt.json_lines(1, 20)
    os.kill(tgt.pid, signal.SIGUSR1)
    return report_after_work(procs, lt, tgt), lt


# Per line, leaktop and tracemalloc (in another run of the same script) agree
# within 0.06% (dict sizes vary with the hash seed); 0.5% leaves room for that
# and nothing else: an object counted twice, or missed, is far beyond it.
TRACEMALLOC_TOLERANCE = 0.005


def check_against_tracemalloc(report, expected, markers):
    seen = per_line(report)
    for marker in markers:
        line = alloc_line("py_alloc.py", marker)
        assert expected[line] > 0
        near = [[(f["kind"], f["function"], f["line"]) for f in s["frames"][:4]]
                for s in report["stacks"]
                if abs(s["outstanding_bytes"] - expected[line]) <= 0.10 * expected[line]]
        assert abs(seen[line] - expected[line]) <= TRACEMALLOC_TOLERANCE * expected[line], \
            f"{marker} (line {line}): leaktop {seen[line]}, tracemalloc {expected[line]}; " \
            f"stacks of about that size: {near}; lost {report['lost_events']}"


def check_frames_and_churn(report):
    # Big objects are exact: bytes(n) asks for n + 33 bytes.
    seen = per_line(report)
    assert seen[alloc_line("py_alloc.py", "big")] == 20 * 200033
    # Threads: each thread's allocations on its own stack.
    assert seen[alloc_line("py_alloc.py", "thread_a")] == 10 * 100033
    assert seen[alloc_line("py_alloc.py", "thread_b")] == 10 * 150033
    for stack in report["stacks"]:
        frame = innermost_python(stack)
        if frame and frame["function"] in ("thread_a_keeps", "thread_b_keeps"):
            names = [f["function"] for f in stack["frames"] if f["kind"] == "python"]
            # 3.10 names functions without their class (no co_qualname)
            assert [n.removeprefix("Thread.") for n in names[1:3]] == ["run", "_bootstrap_inner"], names
            assert "work" not in names  # not the main thread's stack
    # Churn: 50000 lists made and dropped; a free list keeps a few.
    assert seen[alloc_line("py_alloc.py", "churn")] < 10_000
    # Deep recursion: 64 Python frames, then the truncation mark.
    deep = [s for s in report["stacks"] if (innermost_python(s) or {}).get("line")
            == alloc_line("py_alloc.py", "deep") and s["outstanding_bytes"]]
    assert deep, "no stack for the deep allocation"
    python_frames = [f for f in deep[0]["frames"] if f["kind"] == "python"]
    assert len(python_frames) == 65 and python_frames[-1]["function"] == "[truncated]"
    assert all(f["function"] == "recurse" for f in python_frames[:64])
    assert python_frames[1]["line"] == alloc_line("py_alloc.py", "deep") + 2
    # Native frames stay innermost, the interpreter's own are folded away.
    for stack in report["stacks"]:
        kinds = [f["kind"] for f in stack["frames"]]
        if "python" in kinds:
            first = kinds.index("python")
            assert "native" not in kinds[first:]


@pytest.mark.parametrize("python", pyenv_params() + [shared_python("3.13-lto", "python3.13")])
def test_attach_counts_every_object_like_tracemalloc(procs, python):
    """pyenv's shared libpython, and the static LTO 3.13 (which reaches
    pymalloc through its allocator table): pymalloc's functions are probed,
    small objects included."""
    expected = tracemalloc_lines(python)
    report, lt = attach_to_script(procs, python)
    assert "every object (pymalloc's functions are probed)" in lt.stderr()
    check_against_tracemalloc(report, expected, SMALL + BIG)
    check_frames_and_churn(report)
    assert report["lost_events"] == 0


@pytest.mark.parametrize("python", [pytest.param(DEBIAN, id="debian-3.11"),
                                    shared_python("3.13-lto", "python3.13")])
def test_static_spawn_runs_with_malloc_and_counts_like_tracemalloc(procs, python):
    """Debian's LTO python3.11 and a static LTO 3.13 built the same way,
    started by leaktop: PYTHONMALLOC=malloc makes every object a malloc."""
    expected = tracemalloc_lines(python)
    # Room for every stack, in the maps and the report: the interpreter's
    # start-up alone makes ~2000 distinct native stacks (whole since the CFI
    # unwinder; some still hold memory), the script ~14000 Python ones.  A
    # report of 2500 whole stacks is ~4.6 MB of JSON: one every 2 s, so that the
    # reader keeps up and the script (sharing leaktop's stdout) never blocks.
    # The script's "ready" on stderr (see py_alloc.py: a JSON line of megabytes
    # on the shared stdout is several writes).
    lt = procs(leaktop("--json", "-i", "2", "-n", "2500", "--max-stacks", "65536", "--", python,
                       SCRIPT, "--delay", "1"), env={**os.environ, "PY_ALLOC_STATUS": "stderr"})
    lt.wait_stderr_line("ready", 180)
    report = lt.fresh_json(3, 30)
    assert "Python 3.1" in lt.stderr() and "Python frames on" in lt.stderr()
    check_against_tracemalloc(report, expected, SMALL + BIG)
    check_frames_and_churn(report)
    # A stripped interpreter (no debug info): its own frames are still folded.
    assert all(f["object"] != str(python) for s in report["stacks"] for f in s["frames"][1:]
               if innermost_python(s))


def test_debian_attach_shows_arenas_for_small_objects(procs):
    """Debian's LTO python3.11, attached: pymalloc's fast path is inlined, so small
    objects are seen as the 1 MiB arenas they fill, with the Python stack that
    needed a new one; big objects are exact."""
    expected = tracemalloc_lines(DEBIAN)
    tgt = procs([DEBIAN, SCRIPT, "--wait"])
    tgt.wait_line("waiting", 20)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "500"))
    lt.json_lines(1, 20)
    os.kill(tgt.pid, signal.SIGUSR1)
    # pymalloc's own count of the arenas the work made and gave back.
    while not (line := tgt.read_line(180) or "").startswith("arenas allocated"):
        assert line is not None, f"script ended early; leaktop: {lt.stderr()}"
    made, given_back = map(int, line.split()[2::2])
    tgt.wait_line("ready", 30)
    report = lt.fresh_json(3, 30)
    assert "inlined in this build (LTO)" in lt.stderr()
    check_against_tracemalloc(report, expected, BIG)
    arenas = sum(s["outstanding_bytes"] for s in report["stacks"]
                 if s["frames"][0]["function"] == "pymalloc arena")
    # Every arena the work made and kept, each 1 MiB, none twice (those given
    # back may be older ones: then they count on neither side).
    assert made > 0 and arenas % (1 << 20) == 0, (made, arenas)
    assert (made - given_back) << 20 <= arenas <= made << 20, (made, given_back, arenas)


@pytest.mark.parametrize("python", [pytest.param(DEBIAN, id="debian-3.11")] + pyenv_params() +
                         [shared_python("3.13-lto", "python3.13")])
def test_python_line_numbers_and_functions(procs, python):
    report, lt = attach_to_script(procs, python)
    if "3.13" in str(python):  # offsets read from the interpreter itself
        assert "Python frames on (offsets from its _Py_DebugOffsets)" in lt.stderr()
    # Said only of versions no test runs (3.14+).
    assert "not tested on this version" not in lt.stderr()
    stack = max((s for s in report["stacks"] if (innermost_python(s) or {}).get("function")
                 == "keep_big"), key=lambda s: s["outstanding_bytes"])
    python = [f for f in stack["frames"] if f["kind"] == "python"]
    source = Path(SCRIPT).read_text().splitlines()
    assert [f["function"] for f in python] == ["keep_big", "work", "main", "<module>"]
    assert python[0]["line"] == alloc_line("py_alloc.py", "big")
    assert source[python[1]["line"] - 1].strip() == "keep_big()"
    assert source[python[2]["line"] - 1].strip() == "work()"
    assert source[python[3]["line"] - 1].strip() == "main()"
    assert all(f["object"] is None and f["file"] == SCRIPT for f in python)


def test_debian_attach_with_pymalloc_redirect_is_exact_and_restored(procs):
    """--pymalloc-redirect: small objects exact on an LTO build, the allocator
    table restored at exit, and blocks from either allocator freed safely."""
    expected = tracemalloc_lines(DEBIAN)
    tgt = procs([DEBIAN, SCRIPT, "--wait"])
    tgt.wait_line("waiting", 20)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "500", "--pymalloc-redirect"))
    lt.json_lines(1, 20)
    assert "now makes new Python objects with malloc" in lt.stderr()
    os.kill(tgt.pid, signal.SIGUSR1)
    report = report_after_work(procs, lt, tgt)
    check_against_tracemalloc(report, expected, SMALL + BIG)
    assert not per_line(report, allocator="pymalloc arena")
    os.kill(lt.pid, signal.SIGINT)
    assert lt.wait(15) == 0
    # Restored: a new leaktop finds the default (inlined) allocator again.
    again = subprocess.run(leaktop("-p", tgt.pid, "-c", "1", "--json"), capture_output=True,
                           text=True, timeout=30)
    assert "inlined in this build (LTO)" in again.stderr
    # Objects made by malloc during the redirect are freed by pymalloc's free path.
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("again", 120)
    assert tgt.popen.poll() is None


def test_pymalloc_redirect_refused_where_not_needed(procs):
    lt = subprocess.run(leaktop("--pymalloc-redirect", "--", DEBIAN, "-c", "pass"),
                        capture_output=True, text=True, timeout=30)
    assert lt.returncode == 2 and "--pymalloc-redirect is for -p PID" in lt.stderr


def generated_bytes(report):
    """Outstanding bytes per (function, line) of the exec()-made functions
    (innermost Python frame); unknown frames under (None, None)."""
    seen = collections.Counter()
    for stack in report["stacks"]:
        frame = innermost_python(stack)
        if frame and (frame["function"] or "gen_").startswith("gen_"):
            seen[(frame["function"], frame["line"])] += stack["outstanding_bytes"]
    return seen


def named(seen):
    """generated_bytes without the unknown frames: code objects gone before
    leaktop read them (exec()'s module code, which makes each function)."""
    return {key: size for key, size in seen.items() if key[0]}


def run_code_reuse(procs, python, *script_args):
    """py_codereuse.py attached: its functions, and leaktop and the script."""
    tgt = procs([python, TARGET_SOURCES / "py_codereuse.py", "12", *script_args])
    tgt.wait_line("waiting", 20)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "500"))
    lt.json_lines(1, 20)
    os.kill(tgt.pid, signal.SIGUSR1)
    return tgt, lt


def check_reused(functions):
    ids = [f["code_id"] for f in functions]
    assert len(set(ids)) <= len(ids) // 2, f"code objects not reused: {ids}"


def check_code_reuse_named(procs, python):
    """Functions made by exec() one after another, each dropped before the
    next, get their code objects at the same address: each function's bytes
    must still show under its own name and line, not under the first one's.
    Each lives until a report has its bytes (leaktop names it meanwhile)."""
    tgt, lt = run_code_reuse(procs, python, "--step")
    functions = []
    for _ in range(12):
        functions.append(json.loads(tgt.read_line(60)))
        total = sum(f["bytes"] for f in functions)
        deadline = time.monotonic() + 30
        while sum(named(seen := generated_bytes(lt.fresh_json(1, 30))).values()) != total:
            assert time.monotonic() < deadline, f"{functions[-1]} never in a report: {seen}"
        os.kill(tgt.pid, signal.SIGUSR1)
    check_reused(functions)
    seen = named(generated_bytes(lt.fresh_json(2, 30)))
    assert seen == {(f["name"], f["line"]): f["bytes"] for f in functions}


def check_code_reuse_gone(procs, python):
    """The same functions dropped at once: by the time leaktop reads their
    code objects these are gone; their frames are then unknown, never
    another function's."""
    tgt, lt = run_code_reuse(procs, python)
    functions = [json.loads(tgt.read_line(60)) for _ in range(12)]
    check_reused(functions)
    seen = generated_bytes(lt.fresh_json(3, 30))
    expected = {(f["name"], f["line"]): f["bytes"] for f in functions}
    assert sum(seen.values()) == sum(expected.values())
    for key, size in seen.items():
        assert key == (None, None) or expected.get(key) == size, (key, size, seen)


@pytest.mark.parametrize("python", pyenv_params() + [shared_python("3.13-lto", "python3.13")])
def test_reused_code_object_addresses_keep_their_own_frames(procs, python):
    check_code_reuse_named(procs, python)
    check_code_reuse_gone(procs, python)


def test_reused_code_object_addresses_keep_their_own_frames_debian(procs):
    check_code_reuse_named(procs, DEBIAN)
    check_code_reuse_gone(procs, DEBIAN)


@pytest.mark.parametrize("python", [shared_python("3.13t", "python3.13t")])
def test_free_threaded_build_is_said_and_shows_no_python_frames(procs, python):
    """A free-threaded 3.13 (no GIL, mimalloc, another object header): leaktop
    says so, reads no Python frames (never wrong ones), and still counts the
    objects through the allocator table's functions."""
    report, lt = attach_to_script(procs, python)
    assert "free-threaded build (no GIL)" in lt.stderr()
    assert "mimalloc" in lt.stderr()
    assert not [f for s in report["stacks"] for f in s["frames"] if f["kind"] == "python"]
    # the script keeps 20 x 200000 + 300000 + 10 x 100000 + 10 x 150000 bytes
    # in bytes objects, and ~3.5 MB of small objects
    kept_big = 20 * 200033 + 300033 + 10 * 100033 + 10 * 150033
    assert kept_big < report["outstanding_bytes"] < 3 * kept_big, report["outstanding_bytes"]


@pytest.mark.parametrize("python", [pytest.param(DEBIAN, id="debian-3.11")] + pyenv_params() +
                         [shared_python("3.13-lto", "python3.13")])
def test_coroutine_chain_walks_right(procs, python):
    """Coroutines resumed by the event loop: the chain leaf <- middle <- top
    (each a generator-owned frame), then the loop's own frames down to main;
    tasks of their own start at their coroutine."""
    script = TARGET_SOURCES / "py_async.py"
    tgt = procs([python, script])
    tgt.wait_line("waiting", 20)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "500"))
    lt.json_lines(1, 20)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 60)
    report = lt.fresh_json(3, 30)
    leaf = alloc_line("py_async.py", "leaf")
    chains = collections.Counter()
    for stack in report["stacks"]:
        python_frames = [f for f in stack["frames"] if f["kind"] == "python"]
        if python_frames and python_frames[0]["line"] == leaf and str(script) == python_frames[0]["file"]:
            names = [f["function"] for f in python_frames]
            lines = [f["line"] for f in python_frames]
            if names[:3] == ["leaf", "middle", "top"]:
                assert lines[1:3] == [alloc_line("py_async.py", "middle"), alloc_line("py_async.py", "top")]
                assert names[-2:] == ["main", "<module>"], names
                chains["awaited"] += stack["outstanding_bytes"]
            else:
                assert names[:2] == ["leaf", "middle"] and "top" not in names, names
                assert lines[1] == alloc_line("py_async.py", "middle")
                chains["tasks"] += stack["outstanding_bytes"]
    assert chains == {"awaited": 10 * (123457 + 33), "tasks": 5 * (65537 + 33)}, chains


@pytest.mark.parametrize("version", ["3.12.1", "3.13.0"])
def test_dlopened_libpython_frames_and_objects(procs, version):
    """A program that dlopen()s libpython (embedding): 3.12+'s thread state is
    then in TLS blocks allocated per thread, found through each thread's
    DTV; frames, threads and objects as with the python command."""
    python = pyenv(version)
    if not python.exists():
        pytest.skip(f"{python} (pyenv {version}) not installed")
    lib = python.parent.parent / "lib" / f"lib{python.name}.so.1.0"
    expected = tracemalloc_lines(python)
    report, lt = attach_to_script(procs, lib, launcher=[target("py_embed")],
                                  env=dict(os.environ, PYTHONHOME=str(python.parent.parent)))
    assert "every object (pymalloc's functions are probed)" in lt.stderr()
    check_against_tracemalloc(report, expected, SMALL + BIG)
    check_frames_and_churn(report)


@pytest.mark.parametrize("python", [shared_python("3.13t", "python3.13t")])
def test_free_threaded_program_started_by_leaktop_runs(procs, python, tmp_path):
    """A free-threaded Python refuses PYTHONMALLOC=malloc ("unknown
    allocator"): started by leaktop, directly or as a script's #! env
    interpreter, it must run as it would alone, and leaktop says what it sees."""
    script = tmp_path / "script.py"
    script.write_text(f"#!/usr/bin/env {python.name}\n" + Path(SCRIPT).read_text())
    script.chmod(0o755)
    env = dict(os.environ, PATH=f"{python.parent}:{os.environ['PATH']}")
    for command in ([python, SCRIPT], [script]):
        lt = procs(leaktop("--json", "-i", "1", "--", *command, "--delay", "0.5"), env=env)
        report = report_after_work(procs, lt, lt)
        assert "is a free-threaded Python" in lt.stderr(), lt.stderr()
        assert "Fatal Python error" not in lt.stderr()
        assert not [f for s in report["stacks"] for f in s["frames"] if f["kind"] == "python"]
        lt.kill()
