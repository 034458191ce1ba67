"""Growth ranking, threads, code without frame pointers, static executables, C++."""
import pytest

from conftest import alloc_line, attach_after_ready, find_stack, spawn_after_ready

LEAK_RATE = 102400  # leak_rate.c: 10240 bytes every 100 ms


def test_leak_ranks_first_with_its_rate(procs):
    report, _, _ = attach_after_ready(procs, "leak_rate", "--window", "5", intervals_after=12)
    top = report["stacks"][0]
    assert top["frames"][1]["function"] == "leak_slowly"
    assert top["growth_bytes_per_s"] == pytest.approx(LEAK_RATE, rel=0.10)
    big = find_stack(report, "big_static")
    assert big["outstanding_bytes"] == 10 << 20
    assert big["outstanding_bytes"] > top["outstanding_bytes"]  # larger, yet ranked lower
    assert report["stacks"].index(big) > 0
    assert big["growth_bytes_per_s"] == pytest.approx(0, abs=1)
    rates = [s["growth_bytes_per_s"] for s in report["stacks"]]
    assert rates == sorted(rates, reverse=True)


def test_threads_started_while_traced(procs):
    report, _, _ = attach_after_ready(procs, "threads")
    stack = find_stack(report, "thread_keep")
    assert stack["outstanding_bytes"] == 50 * 4 * 512
    assert stack["outstanding_allocs"] == 200
    assert stack["frames"][1]["line"] == alloc_line("threads.c", "thread_keep")


def test_threads_spawn(procs):
    report, _ = spawn_after_ready(procs, "threads")
    assert find_stack(report, "thread_keep")["outstanding_bytes"] == 50 * 4 * 512


def test_immediate_caller_without_frame_pointer(procs):
    report, _, _ = attach_after_ready(procs, "nofp")
    stack = find_stack(report, "nofp_caller")
    assert stack["outstanding_bytes"] == 20 * 300
    assert stack["frames"][1]["file"].endswith("nofp.c")
    assert stack["frames"][1]["line"] == alloc_line("nofp.c", "nofp_caller")
    # Every frame shown is a real one: named in a known object, never garbage.
    for frame in stack["frames"]:
        assert frame["object"] is not None


def test_static_executable_own_malloc(procs):
    report, _ = spawn_after_ready(procs, "static")
    stack = find_stack(report, "keep_static")
    assert stack["outstanding_bytes"] == 10 * 4321
    assert stack["frames"][0]["object"].endswith("/static")  # malloc is in the executable


def test_static_executable_attach(procs):
    report, _, _ = attach_after_ready(procs, "static")
    assert find_stack(report, "keep_static")["outstanding_allocs"] == 10


def test_cpp_names_are_demangled(procs):
    report, _, _ = attach_after_ready(procs, "cpp")
    stack = find_stack(report, "leaky::Cache::store")
    assert stack["frames"][1]["function"] == "leaky::Cache::store(int)"
    assert stack["outstanding_bytes"] == 10 * 1234
    assert stack["frames"][1]["line"] == alloc_line("cpp.cc", "store")
