"""Bad input: one clear stderr line, the documented exit code, nothing left attached."""
import os
import subprocess
import time

import pytest

from conftest import LEAKTOP, leaktop_links, no_links_left, target


def run(args, **kwargs):
    return subprocess.run([LEAKTOP, *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, **kwargs)


def check_failure(result, code, *words):
    lines = result.stderr.splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("leaktop: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert result.stdout == ""


def free_pid():
    pid = 4000000
    while os.path.exists(f"/proc/{pid}"):
        pid += 1
    return pid


@pytest.mark.parametrize("args, words", [
    (["-i", "0", "-p", "1"], ["interval"]),
    (["-i", "-1", "-p", "1"], ["interval"]),
    (["-i", "abc", "-p", "1"], ["interval"]),
    (["-c", "0", "-p", "1"], ["count"]),
    (["-n", "0", "-p", "1"], ["--top"]),
    (["-n", "99999999", "-p", "1"], ["--top"]),
    (["-p", "abc"], ["PID"]),
    (["--bogus", "-p", "1"], ["--bogus"]),
    (["-p"], ["needs a value"]),
    (["-p", "1", "--", "true"], ["not both"]),
    ([], ["-p PID"]),
    (["-s", "x", "-p", "1"], ["--sample-bytes"]),
    (["--quiet", "-p", "1"], ["--prom-file", "--pprof"]),
    (["--pprof", "", "-p", "1"], ["--pprof needs a file name"]),
    (["--prom-file", "", "-p", "1"], ["--prom-file needs a file name"]),
    (["--folded", "", "-p", "1"], ["--folded needs a file name"]),
    (["--html", "", "-p", "1"], ["--html needs a file name"]),
])
def test_usage_errors_exit_2(args, words, tmp_path):
    # Said before anything is loaded: not one bpf() or perf_event_open() call
    # (a check of the links left afterwards could not fail: an ended process
    # holds none).
    log = tmp_path / "strace.log"
    result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=bpf,perf_event_open", "-o", str(log),
                             LEAKTOP, *args], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    check_failure(result, 2, *words)
    calls = [line for line in log.read_text().splitlines() if "bpf(" in line or "perf_event_open(" in line]
    assert not calls, calls[:3]


def test_help():
    result = run(["--help"])
    assert result.returncode == 0
    assert "-p, --pid PID" in result.stdout and "--json" in result.stdout


def test_nonexistent_pid():
    check_failure(run(["-p", str(free_pid())]), 1, "no process")


def test_kernel_thread():
    check_failure(run(["-p", "2"]), 1, "kernel thread")


def test_zombie(procs):
    child = subprocess.Popen(["true"])
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(f"/proc/{child.pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.05)
        check_failure(run(["-p", str(child.pid)]), 1, "zombie")
    finally:
        child.wait()


def test_leaktop_itself():
    result = subprocess.run(["sh", "-c", f'exec "{LEAKTOP}" -p $$'], capture_output=True,
                            text=True, timeout=30)
    check_failure(result, 1, "leaktop itself")


def test_no_allocator(procs):
    tgt = procs([target("nomalloc")])
    time.sleep(0.2)
    before = leaktop_links()
    check_failure(run(["-p", str(tgt.pid)]), 1, "no allocator")
    assert no_links_left(before)


def test_missing_command():
    check_failure(run(["--", "no-such-command-xyz"]), 1, "no-such-command-xyz")


def test_not_root(procs):
    tgt = procs([target("nomalloc")])
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
         LEAKTOP, "-p", str(tgt.pid)], capture_output=True, text=True, timeout=30)
    check_failure(result, 1, "root", "CAP_")


@pytest.mark.parametrize("option, path, words", [
    ("--prom-file", "/nonexistent-dir/x.prom", ["does not exist"]),
    ("--prom-file", "/tmp", ["directory"]),
    ("--folded", "/nonexistent-dir/x.folded", ["does not exist"]),
    ("--folded", "/dev/null", ["not a regular file"]),  # renamed over: never a device
    ("--pprof", "/nonexistent-dir/x.pb.gz", ["does not exist"]),
    ("--pprof", "/dev/null", ["not a regular file"]),
])
def test_unwritable_output(option, path, words):
    check_failure(run([option, path, "-p", "1"]), 2, option, *words)


def test_stripped_static_allocator(tmp_path):
    stripped = tmp_path / "static-stripped"
    subprocess.run(["strip", "-o", str(stripped), target("static")], check=True)
    result = run(["--", str(stripped)])
    check_failure(result, 1, "no allocator", "malloc")
