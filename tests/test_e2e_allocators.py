"""Other allocators: jemalloc (also inside a real redis-server), tcmalloc."""
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import alloc_line, attach_after_ready, find_stack, leaktop, target


def test_jemalloc(procs):
    report, _, _ = attach_after_ready(procs, "jemalloc")
    stack = find_stack(report, "keep_jemalloc")
    assert stack["frames"][0]["object"].endswith("libjemalloc.so.2")
    assert stack["outstanding_bytes"] == 50 * 3000
    assert stack["frames"][1]["line"] == alloc_line("jemalloc.c", "keep_jemalloc")
    churn = [s for s in report["stacks"]
             if len(s["frames"]) > 1 and s["frames"][1]["function"] == "churn_jemalloc"]
    assert all(s["outstanding_bytes"] == 0 for s in churn)
    # The extended API: the 8 blocks moved by rallocx, the sdallocx/dallocx'd ones gone.
    moved = find_stack(report, "keep_extended", allocator="rallocx")
    assert moved["outstanding_bytes"] == 8 * 4000 and moved["outstanding_allocs"] == 8
    # xallocx: each block, shrunk in place to its real size 20480, is counted at the
    # xallocx call (as realloc's are); the failed growth changed nothing.
    resized = find_stack(report, "resize_in_place", allocator="xallocx")
    assert resized["outstanding_bytes"] == 6 * 20480 and resized["outstanding_allocs"] == 6
    assert resized["frames"][1]["line"] == alloc_line("jemalloc.c", "resize_xallocx")
    # Without the sdallocx/dallocx probes 50 mallocx blocks would be left here
    # (and without the xallocx probe, 6 of 40000 B).
    assert not [s for s in report["stacks"]
                if s["frames"][0]["function"] == "mallocx" and s["outstanding_bytes"]]


def test_tcmalloc_operator_new_and_malloc(procs):
    report, _, _ = attach_after_ready(procs, "tcmalloc")
    records = find_stack(report, "keep_records()")
    assert records["frames"][0]["function"] == "operator new"
    assert records["frames"][0]["object"].split("/")[-1].startswith("libtcmalloc_minimal.so")
    assert records["outstanding_bytes"] == 32 * 200
    assert find_stack(report, "keep_tc_malloc()")["outstanding_bytes"] == 10 * 5555
    for stack in report["stacks"]:
        if len(stack["frames"]) > 1 and stack["frames"][1]["function"] == "churn_records()":
            assert stack["outstanding_bytes"] == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def used_memory(port):
    info = subprocess.run(["redis-cli", "-p", str(port), "info", "memory"], capture_output=True,
                          text=True, timeout=10).stdout
    return int(next(line.split(":")[1] for line in info.splitlines()
                    if line.startswith("used_memory:")))


@pytest.fixture
def redis(procs, tmp_path):
    port = free_port()
    server = procs(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", str(tmp_path), "--daemonize", "no"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                          text=True).stdout.strip() == "PONG":
            return server, port
        time.sleep(0.1)
    raise AssertionError("redis did not start")


def benchmark(port, *args):
    subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-c", "4", *args],
                   capture_output=True, timeout=120, check=True)


def test_redis_growth_matches_its_own_accounting(procs, redis):
    server, port = redis
    lt = procs(leaktop("-p", server.pid, "--json", "-i", "0.5", "-n", "200"))
    lt.json_lines(1, 15)
    before = used_memory(port)
    # 20000 new keys with 100-byte values: redis keeps every one.
    benchmark(port, "-t", "set", "-n", "20000", "-r", "100000000", "-d", "100")
    grown = used_memory(port) - before
    report = lt.fresh_json(2, 10)
    # used_memory counts jemalloc's usable sizes (rounded up to size classes);
    # leaktop counts requested bytes: it must be close below it, never above.
    assert 0.80 * grown <= report["outstanding_bytes"] <= 1.02 * grown, (grown, report["outstanding_bytes"])
    top = report["stacks"][0]
    assert top["frames"][0]["object"].endswith("libjemalloc.so.2")


def test_redis_balanced_load_shows_no_growth(procs, redis):
    server, port = redis
    benchmark(port, "-t", "set", "-n", "2000", "-r", "1000", "-d", "100")  # a fixed key set
    lt = procs(leaktop("-p", server.pid, "--json", "-i", "0.5", "--window", "3"))
    lt.json_lines(1, 15)
    for _ in range(3):  # overwrite the same keys and read them: no new memory
        benchmark(port, "-t", "set,get", "-n", "20000", "-r", "1000", "-d", "100")
    report = lt.fresh_json(2, 10)
    assert report["growth_bytes_per_s"] < 20000  # no growth (freeing is fine)
    assert report["outstanding_bytes"] < 256 * 1024
    # Positive control in the same run: new keys are seen as they are kept.
    before = used_memory(port)
    benchmark(port, "-t", "set", "-n", "5000", "-r", "100000000", "-d", "100")
    grown = used_memory(port) - before
    kept = lt.fresh_json(2, 10)["outstanding_bytes"] - report["outstanding_bytes"]
    assert 0.80 * grown <= kept <= 1.02 * grown, (grown, kept)
