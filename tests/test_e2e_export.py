"""Prometheus textfile (checked by promtool, served by a real node_exporter) and
folded stacks."""
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from conftest import alloc_line, leaktop, target
from test_e2e_exact import EXPECTED as EXACT


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def parse_prom(text):
    """{(name, frozenset(labels)): value} of an exposition-format text."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        name, _, labels = head.partition("{")
        pairs = []
        for part in labels.rstrip("}").split('",'):
            if part:
                key, _, val = part.partition('="')
                pairs.append((key, val.rstrip('"')))
        samples[(name, frozenset(pairs))] = float(value)
    return samples


def series(samples, name, **labels):
    wanted = set(labels.items())
    return {k: v for k, v in samples.items() if k[0] == name and wanted <= set(k[1])}


def exact_series(samples, name):
    """{caller function: value} of exact.c's stacks (their top_frame label)."""
    found = {}
    for (metric, labels), value in samples.items():
        top = dict(labels).get("top_frame", "")
        if metric == name and " (exact.c:" in top:
            found[top.split(" (")[0]] = value
    return found


def test_promtool_accepts_the_file(procs, tmp_path):
    prom = tmp_path / "leaktop.prom"
    lt = procs(leaktop("-i", "0.3", "-c", "4", "--quiet", "--prom-file", prom, "--prom-top", "3",
                       "--", target("exact")))
    assert lt.wait(20) == 0, lt.stderr()
    assert oct(prom.stat().st_mode & 0o777) == "0o644"
    check = subprocess.run(["promtool", "check", "metrics"], input=prom.read_text(),
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    samples = parse_prom(prom.read_text())
    per_stack = series(samples, "leaktop_stack_outstanding_bytes")
    assert len(per_stack) == 4  # top 3 + other
    # Against what exact.c keeps (tests/test_e2e_exact.py): each of its stacks
    # among the top 3 has its own bytes, and the rest of them is in "other".
    known = {caller: size for caller, (_, size, _) in EXACT.items()}
    shown = exact_series(samples, "leaktop_stack_outstanding_bytes")
    for caller, value in shown.items():
        assert value == known[caller], caller
    (other,) = series(samples, "leaktop_stack_outstanding_bytes", stack_id="other").values()
    hidden = sum(size for caller, size in known.items() if caller not in shown)
    assert hidden <= other <= hidden + 64 * 1024, (hidden, other)  # + libc's own blocks
    (total,) = series(samples, "leaktop_outstanding_bytes").values()
    assert sum(known.values()) <= total <= sum(known.values()) + 64 * 1024
    assert list(series(samples, "leaktop_lost_events_total").values()) == [0]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".leaktop-")]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_node_exporter_serves_leaktop_series(procs, tmp_path):
    port = free_port()
    exporter = procs(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{port}",
                      "--collector.disable-defaults", "--collector.textfile",
                      f"--collector.textfile.directory={tmp_path}"])
    lt = procs(leaktop("-i", "0.3", "--quiet", "--prom-top", "50", "--prom-file",
                       tmp_path / "leaktop.prom", "--", target("exact")))

    def scrape():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return parse_prom(r.read().decode())
        except OSError:
            return {}

    # Served through node_exporter: exact.c's kept blocks, as the target made them.
    known = {caller: size for caller, (_, size, _) in EXACT.items()}
    samples = {}

    def all_kept():
        nonlocal samples
        samples = scrape()
        return exact_series(samples, "leaktop_stack_outstanding_bytes") == known
    wait_for(all_kept, 30, f"exact.c's blocks served (last scrape: "
             f"{exact_series(samples, 'leaktop_stack_outstanding_bytes')}; {exporter.stderr()})")
    keep = [labels for (name, labels) in samples
            if name == "leaktop_stack_outstanding_bytes" and "keep_blocks" in dict(labels)["top_frame"]]
    (labels,) = keep
    assert dict(labels)["top_frame"] == f"keep_blocks (exact.c:{alloc_line('exact.c', 'keep_blocks')})"
    assert dict(labels)["comm"] == "exact" and dict(labels)["pid"] == str(lt.children()[0])
    growth = series(samples, "leaktop_stack_growth_bytes_per_second", stack_id=dict(labels)["stack_id"])
    assert len(growth) == 1
    (total,) = series(samples, "leaktop_outstanding_bytes").values()
    assert sum(known.values()) <= total <= sum(known.values()) + 64 * 1024


def test_reader_never_sees_a_partial_file(procs, tmp_path):
    prom = tmp_path / "leaktop.prom"
    lt = procs(leaktop("-i", "0.02", "-c", "150", "--quiet", "--prom-file", prom,
                       "--", target("exact")))
    seen, bad = 0, []

    def poll():
        nonlocal seen
        while lt.popen.poll() is None:
            try:
                text = prom.read_text()
            except FileNotFoundError:
                continue
            seen += 1
            if not text.endswith("\n") or "leaktop_lost_events_total{" not in text:
                bad.append(text)

    reader = threading.Thread(target=poll)
    reader.start()
    lt.wait(60)
    reader.join()
    assert seen > 50
    assert not bad


def test_symlink_at_path_is_replaced_not_followed(procs, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    prom = tmp_path / "leaktop.prom"
    prom.symlink_to(victim)
    lt = procs(leaktop("-i", "0.3", "-c", "2", "--quiet", "--prom-file", prom,
                       "--", target("exact")))
    assert lt.wait(20) == 0
    assert victim.read_text() == "precious\n"
    assert not prom.is_symlink()
    assert "leaktop_outstanding_bytes" in prom.read_text()


def test_folded_stacks_at_exit(procs, tmp_path):
    folded = tmp_path / "out.folded"
    lt = procs(leaktop("--json", "-i", "0.3", "-c", "5", "-n", "1000", "--folded", folded,
                       "--", target("exact")))
    reports = lt.all_json(20)
    assert lt.wait(5) == 0
    lines = folded.read_text().splitlines()
    last = reports[-1]
    total = 0
    for line in lines:
        stack, count = line.rsplit(" ", 1)
        assert int(count) > 0
        assert stack and ";;" not in stack
        total += int(count)
    assert total == last["outstanding_bytes"]
    keep = [line for line in lines if ";keep_blocks (exact.c:" in line]
    assert len(keep) == 1
    # Down to the program's entry (CFI), or to libc's start code if keep_blocks ran
    # within the first millisecond, before the new program was indexed.
    assert keep[0].startswith(("_start;__libc_start_main", "__libc_start_call_main")), keep[0]
    frames, count = keep[0].rsplit(" ", 1)
    assert count == "100000"
    assert frames.split(";")[-1].startswith("malloc")
    assert ";main (exact.c:" in keep[0]


def test_folded_on_sigusr1(procs, tmp_path):
    folded = tmp_path / "out.folded"
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    lt = procs(leaktop("-p", tgt.pid, "-i", "0.3", "--quiet", "--folded", folded))
    lt.wait_stderr("tracing PID", 30)
    time.sleep(0.5)  # five of the target's 100 ms leaks
    assert not folded.exists()
    os.kill(lt.pid, signal.SIGUSR1)
    wait_for(folded.exists, 5, "folded file after SIGUSR1")
    assert "leak_slowly (leak_rate.c:" in folded.read_text()
    assert lt.popen.poll() is None  # still running


@pytest.fixture
def tiny_fs(tmp_path):
    """A 64 KiB tmpfs, to fill up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_is_reported_and_retried(procs, tiny_fs):
    prom = tiny_fs / "leaktop.prom"
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    lt = procs(leaktop("-p", tgt.pid, "-i", "0.2", "--quiet", "--prom-file", prom))
    wait_for(prom.exists, 10, "the first textfile")
    good = prom.read_text()
    filler = tiny_fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # fill every free byte
        while os.write(fd, b"x" * 512) > 0:
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    wait_for(lambda: "retrying" in lt.stderr(), 10, "the write failure report")
    assert "No space left on device" in lt.stderr()
    text = prom.read_text()
    assert text.endswith("\n") and "leaktop_lost_events_total{" in text  # old file intact
    assert not [p for p in os.listdir(tiny_fs) if p.startswith(".leaktop-")]
    filler.unlink()
    wait_for(lambda: "written again" in lt.stderr(), 10, "recovery")
    assert lt.stderr().count("retrying") == 1  # reported once, not every interval
    assert good != prom.read_text()


def test_read_only_directory_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=16k", "tmpfs", str(ro)], check=True)
    try:
        result = subprocess.run(leaktop("--prom-file", ro / "x.prom", "-p", "1"),
                                capture_output=True, text=True, timeout=30)
    finally:
        subprocess.run(["umount", "-l", str(ro)], check=False)
    assert result.returncode == 2
    assert "not writable" in result.stderr and len(result.stderr.splitlines()) == 1
