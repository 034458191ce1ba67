"""Helpers for the end-to-end tests: start processes (always cleaned up by PID),
read their output line by line with timeouts, find stacks in leaktop's JSON.

`make test` runs the suite on several pytest-xdist workers at once (Makefile,
PYTEST_WORKERS): a test must not count what another test's leaktop does on
the machine (see leaktop_links), and tests that share something beyond their
own processes take a lock (the fixtures make_in_checkout and whole_cpu)."""
import contextlib
import fcntl
import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LEAKTOP = os.environ.get("LEAKTOP", str(ROOT / "leaktop"))
TARGETS = Path(os.environ.get("TARGETS_DIR", str(ROOT / "build" / "targets")))
TARGET_SOURCES = ROOT / "tests" / "targets"


# The modules of the longest tests, started first on the xdist workers so
# that none is left running alone at the end of the run (the same order on
# every worker: xdist checks that they all collect the same list).
LONG_FIRST = ("test_e2e_slots.py", "test_e2e_python.py", "test_e2e_tornado.py", "test_e2e_html.py")


def pytest_collection_modifyitems(items):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {name: i for i, name in enumerate(LONG_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FIRST)))  # stable


@contextlib.contextmanager
def one_at_a_time(name):
    """Held by one test at a time among those of this checkout's suite that
    ask for `name` (other xdist workers wait for it)."""
    checkout = hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"leaktop-test-{checkout}-{name}.lock"
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture
def make_in_checkout():
    """For a test that runs make in this checkout (install, deb): two at once
    would write the same build files."""
    with one_at_a_time("make"):
        yield


@pytest.fixture
def whole_cpu():
    """For a test that keeps a CPU busy all along (a fuzzer): one at a time,
    so that the tests beside it still get a CPU on a small machine."""
    with one_at_a_time("cpu"):
        yield


def children_of(pid):
    """The PIDs of a process's children (none once it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


class Proc:
    """A started process whose stdout lines are queued as they come."""

    def __init__(self, argv, env=None):
        self.argv = argv
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env, start_new_session=True)
        self.pid = self.popen.pid
        self.lines = queue.Queue()
        self.stderr_lines = []
        threading.Thread(target=self._pump, args=(self.popen.stdout, self.lines.put, True),
                         daemon=True).start()
        threading.Thread(target=self._pump, args=(self.popen.stderr, self.stderr_lines.append,
                                                  False), daemon=True).start()

    @staticmethod
    def _pump(stream, put, mark_eof):
        for line in stream:
            put(line.rstrip("\n"))
        if mark_eof:
            put(None)

    def read_line(self, timeout):
        """The next stdout line, or None at EOF or after timeout seconds."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self):
        """Drops the lines already printed: what follows is newer."""
        while True:
            try:
                if self.lines.get_nowait() is None:
                    self.lines.put(None)  # keep the EOF mark
                    return
            except queue.Empty:
                return

    def fresh_json(self, count, timeout):
        """The `count`-th JSON object printed from now on (older ones skipped)."""
        self.drain()
        return self.json_lines(count, timeout)[-1]

    def wait_line(self, wanted, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.read_line(deadline - time.monotonic())
            if line is None:
                break
            if line == wanted:
                return
        raise AssertionError(f"{self.argv[0]}: no line {wanted!r} within {timeout}s; "
                             f"stderr: {self.stderr()}")

    def wait_stderr_line(self, wanted, timeout):
        """Waits until a whole stderr line is `wanted` (a spawned target's own)."""
        deadline = time.monotonic() + timeout
        while wanted not in list(self.stderr_lines):
            ended = self.popen.poll() is not None
            time.sleep(0.05)  # the pump may still be reading its last lines
            if (ended or time.monotonic() > deadline) and wanted not in list(self.stderr_lines):
                raise AssertionError(f"{self.argv[0]}: no stderr line {wanted!r} within {timeout}s"
                                     f"{' (it ended)' if ended else ''}: {self.stderr()}")

    def wait_stderr(self, text, timeout):
        """Waits until a stderr line holds `text` (e.g. leaktop's "tracing PID")."""
        deadline = time.monotonic() + timeout
        while not any(text in line for line in list(self.stderr_lines)):
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.argv[0]}: no {text!r} on stderr in {timeout}s: {self.stderr()}")
            time.sleep(0.05)

    def json_lines(self, count, timeout):
        """The next `count` JSON objects printed on stdout."""
        objects = []
        deadline = time.monotonic() + timeout
        while len(objects) < count:
            line = self.read_line(max(0.01, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"got {len(objects)} of {count} JSON lines in {timeout}s; "
                                     f"stderr: {self.stderr()}")
            objects.append(json.loads(line))
        return objects

    def all_json(self, timeout):
        """Every JSON line until the process exits (a spawned target's own
        output, on the same stdout, is skipped)."""
        self.popen.wait(timeout=timeout)
        objects = []
        while True:
            line = self.read_line(2)
            if line is None:
                return objects
            if line.startswith("{"):
                objects.append(json.loads(line))

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def stderr(self):
        time.sleep(0.05)
        return "\n".join(self.stderr_lines)

    def children(self):
        return children_of(self.pid)

    def kill(self):
        """Ends the process and the children it started (leaktop's spawned
        target), by PID: SIGTERM first so leaktop detaches cleanly."""
        children = self.children()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.popen.poll() is not None:
                break
            os.kill(self.pid, sig)
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # What is left of the process group it leads (a spawned target's own
        # children, orphaned when leaktop ended first); while one is left, no
        # new process can be given this id.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def procs():
    """Starts processes for a test and kills every one of them (by PID) after it."""
    started = []

    def start(argv, env=None):
        p = Proc([str(a) for a in argv], env=env)
        started.append(p)
        return p

    yield start
    for p in reversed(started):
        p.kill()


def target(name):
    path = TARGETS / name
    assert path.exists(), f"{path} not built (make test builds it)"
    return str(path)


def alloc_line(source, marker):
    """Line number of the `/* ALLOC:marker */` line in a target's source."""
    for number, text in enumerate((TARGET_SOURCES / source).read_text().splitlines(), 1):
        if re.search(rf"ALLOC:{re.escape(marker)}\b", text):
            return number
    raise AssertionError(f"no ALLOC:{marker} in {source}")


def caller_name(stack):
    frames = stack["frames"]
    return frames[1]["function"] if len(frames) > 1 else None


def find_stack(report, function, allocator=None):
    """The stack whose immediate caller (frames[1]) is `function` (a prefix for C++),
    with the figures of its cut-short variants added: a walk that saw the
    unwinder's index change keeps only the frames it is sure of, and such a
    stack (a prefix of the whole one) holds part of the same call site's bytes."""
    found = []
    for stack in report["stacks"]:
        name = caller_name(stack)
        if name and (name == function or name.startswith(function + "(")):
            if allocator is None or stack["frames"][0]["function"] == allocator:
                found.append(stack)
    if not found:
        names = [(s["frames"][0]["function"], caller_name(s)) for s in report["stacks"]]
        raise AssertionError(f"no stack with caller {function}; stacks: {names}")
    whole = max(found, key=lambda s: (len(s["frames"]), s["outstanding_bytes"]))
    names = [(f["function"], f["line"]) for f in whole["frames"]]
    merged = dict(whole)
    for stack in found:
        if stack is not whole and [(f["function"], f["line"]) for f in stack["frames"]] == names[:len(stack["frames"])]:
            merged["outstanding_bytes"] += stack["outstanding_bytes"]
            merged["outstanding_allocs"] += stack["outstanding_allocs"]
    return merged


def leaktop(*args):
    return [LEAKTOP, *[str(a) for a in args]]


def attach_after_ready(procs, name, *leaktop_args, intervals_after=2, target_args=(), env=None,
                       attach_timeout=15):
    """Starts target `name --wait`, attaches leaktop --json -i 0.5 (with `env`),
    lets the target allocate once the probes are live; returns the report
    `intervals_after` intervals after the target said ready."""
    tgt = procs([target(name), "--wait", *target_args])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", *leaktop_args), env=env)
    lt.json_lines(1, attach_timeout)  # probes are attached once the first report is out
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    return lt.fresh_json(intervals_after + 1, 15), tgt, lt


def spawn_after_ready(procs, name, *leaktop_args, intervals_after=2, target_args=()):
    """Runs leaktop --json -i 0.5 -- target; returns a report `intervals_after`
    intervals after the target said ready (target stdout is leaktop's too)."""
    lt = procs(leaktop("--json", "-i", "0.5", *leaktop_args, "--", target(name), *target_args))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = lt.read_line(deadline - time.monotonic())
        assert line is not None, f"leaktop ended early: {lt.stderr()}"
        if line == "ready":
            return lt.json_lines(intervals_after + 1, 15)[-1], lt
    raise AssertionError("target never said ready")


def fdinfo(pid):
    """The fields of /proc/PID/fdinfo of each file the process holds open (BPF
    maps say map_type, max_entries...; links say link_id)."""
    infos = []
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                infos.append({k.strip(): v.strip() for k, v in
                              (line.split(":", 1) for line in f if ":" in line)})
        except OSError:
            continue  # closed meanwhile
    return infos


# The pytest-xdist worker running this test ("gw0"...; None in a serial run):
# it is in the environment of every process a test starts (a test giving
# leaktop an environment of its own must keep PYTEST_XDIST_WORKER in it).
WORKER = os.environ.get("PYTEST_XDIST_WORKER")


def _worker_of(pid):
    """The xdist worker whose test started process pid (None if none did)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
    except OSError:
        return None
    for entry in env:
        if entry.startswith(b"PYTEST_XDIST_WORKER="):
            return entry.split(b"=", 1)[1].decode()
    return None


def _links_held_by_other_tracers():
    """Link ids held open by processes other than the leaktops this worker's
    tests started (a second checkout, another build or another worker of
    this suite tracing at the same time must not fail this test; an exiting
    one whose exe is no longer readable included)."""
    held = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            exe = os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")  # rebuilt
        except OSError:
            exe = None
        if exe == LEAKTOP and _worker_of(pid) == WORKER:
            continue
        try:
            held |= {int(info["link_id"]) for info in fdinfo(pid) if "link_id" in info}
        except OSError:
            continue
    return held


def bpftool_json(*args):
    """bpftool -j ARGS, parsed.  A listing of every object ("link show", "map
    show") fails when one goes away between its id and its details (other
    tests' tracers detach all the time): tried again, as the kernel's list
    has moved on by then."""
    for _ in range(20):
        result = subprocess.run(["bpftool", "-j", *args], capture_output=True, text=True)
        if result.returncode == 0:
            return json.loads(result.stdout or "[]")
        time.sleep(0.05)
    raise AssertionError(f"bpftool {' '.join(args)}: {result.stderr.strip()}")


def leaktop_links():
    """Ids of BPF links whose program is one of leaktop's, except those of
    other leaktop binaries running beside the suite and those of the
    leaktops of other xdist workers."""
    ours = {p["id"] for p in bpftool_json("prog", "show")
            if p.get("name") in ("alloc_enter", "alloc_return", "free_enter", "py_free_enter",
                                     "new_return")}
    links = {link["id"] for link in bpftool_json("link", "show") if link.get("prog_id") in ours}
    return links - _links_held_by_other_tracers()


def mapped_path(pid, name):
    """The file a process maps under this base name (its path, " (deleted)" cut)."""
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            path = line.split(maxsplit=5)[5:]
            if path and os.path.basename(path[0].strip()) == name:
                return path[0].strip().removesuffix(" (deleted)")
    raise AssertionError(f"PID {pid} maps no {name}")


def no_links_left(before, timeout=10):
    """Whether leaktop's links are gone (back to `before`): the kernel releases
    a link once its last descriptor closes, which can lag the exit a little,
    and a tracer exiting beside the suite holds some for a moment."""
    deadline = time.monotonic() + timeout
    while not leaktop_links() <= before:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def spawn_python_to_exit(procs, python, script, *options, delay="0"):
    """leaktop --json with `options` (a file view) starting `python script
    --delay D`; once the script says "ready" and two more lines came, SIGTERM:
    the last JSON line and the files written at exit are one snapshot.
    Returns (leaktop's Proc, that last report)."""
    # Room for every stack: the interpreter's start-up and the script make
    # ~16000 distinct stacks (see test_e2e_python.py), more than the default
    # --max-stacks.  A line of 5000 whole stacks is megabytes of JSON: one
    # every 2 s, so that the reader keeps up and the script (sharing leaktop's
    # stdout) never blocks.
    # The script's "ready" on stderr: on the shared stdout it may land inside a
    # JSON line (see py_alloc.py).
    lt = procs(leaktop("--json", "-i", "2", "-n", "5000", "--max-stacks", "65536", *options,
                       "--", python, script, "--delay", delay),
               env={**os.environ, "PY_ALLOC_STATUS": "stderr"})
    lt.wait_stderr_line("ready", 180)
    lt.json_lines(2, 30)
    os.kill(lt.pid, signal.SIGTERM)
    return lt, lt.all_json(60)[-1]
