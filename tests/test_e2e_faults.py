"""Faults: leaktop killed, the target exec'ing, forking or churning threads,
signals and a closed pipe; the target's behaviour unchanged."""
import os
import shutil
import signal
import subprocess
import time

from conftest import (LEAKTOP, TARGET_SOURCES, find_stack, leaktop, leaktop_links, no_links_left, mapped_path,
                      target)


def test_sigkill_leaves_nothing_attached_and_target_unaffected(procs):
    before = leaktop_links()
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3"))
    lt.json_lines(2, 15)
    assert leaktop_links() - before
    os.kill(lt.pid, signal.SIGKILL)
    lt.wait(10)
    deadline = time.monotonic() + 10
    while leaktop_links() - before and time.monotonic() < deadline:
        time.sleep(0.1)  # the kernel frees links when the last fd closes
    assert not leaktop_links() - before
    time.sleep(0.3)
    assert tgt.popen.poll() is None


def test_exec_is_followed_without_wrong_attribution(procs):
    tgt = procs([target("execs"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 10)
    before = lt.fresh_json(2, 10)
    assert find_stack(before, "before_exec")["outstanding_bytes"] == 5000
    os.kill(tgt.pid, signal.SIGUSR1)  # now exec
    tgt.wait_line("exec'd", 10)
    after = lt.fresh_json(3, 10)
    assert "executed a new program" in lt.stderr()
    stack = find_stack(after, "after_exec")
    assert stack["outstanding_bytes"] == 7000
    assert stack["frames"][1]["file"].endswith("execs.c")
    callers = [s["frames"][1]["function"] for s in after["stacks"] if len(s["frames"]) > 1]
    assert "before_exec" not in callers  # the old heap is gone
    assert after["outstanding_bytes"] == sum(s["outstanding_bytes"] for s in after["stacks"])


def test_spawn_through_a_shell_exec(procs):
    lt = procs(leaktop("--json", "-i", "0.3", "-c", "6", "--",
                       "sh", "-c", f"exec {target('exact')} > /dev/null"))
    reports = lt.all_json(30)
    assert lt.wait(5) == 0
    assert find_stack(reports[-1], "keep_blocks")["outstanding_bytes"] == 100000


def wait_stderr(proc, text, timeout):
    """Waits until the process has said `text` on stderr (or timeout seconds)."""
    deadline = time.monotonic() + timeout
    while text not in proc.stderr() and time.monotonic() < deadline:
        assert proc.popen.poll() is None, f"ended early: {proc.stderr()}"


def check_static_after_exec(report):
    """What static keeps once told to go: 10 blocks of 4321 B, from its own malloc."""
    stack = find_stack(report, "keep_static")
    assert stack["outstanding_bytes"] == 10 * 4321
    assert stack["outstanding_allocs"] == 10
    assert stack["frames"][0]["object"].endswith("/static")


def test_exec_into_a_program_with_its_own_malloc_spawn(procs):
    # The shell's allocator is libc; the program it becomes (static) has its
    # own malloc, which must be found and probed after the exec.
    lt = procs(leaktop("--json", "-i", "0.3", "--", "sh", "-c", f"exec {target('static')} --wait"))
    while (line := lt.read_line(15)) != "waiting":
        assert line is not None, f"leaktop ended early: {lt.stderr()}"
    wait_stderr(lt, f"probes on {target('static')}", 15)
    os.kill(lt.children()[0], signal.SIGUSR1)
    while (line := lt.read_line(15)) != "ready":
        assert line is not None, f"leaktop ended early: {lt.stderr()}"
    check_static_after_exec(lt.fresh_json(2, 15))
    assert f"probes on {target('static')}, mapped since its exec" in lt.stderr()


def test_exec_into_a_program_with_its_own_malloc_attach(procs, tmp_path):
    # A shell traced before it becomes static.
    go = tmp_path / "go"
    tgt = procs(["sh", "-c", f"while [ ! -e {go} ]; do sleep 0.05; done; exec {target('static')} --wait"])
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3"))
    lt.json_lines(1, 15)
    go.touch()
    tgt.wait_line("waiting", 15)
    wait_stderr(lt, f"probes on {target('static')}", 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    check_static_after_exec(lt.fresh_json(2, 15))
    assert "executed a new program" in lt.stderr()


def test_exec_into_a_program_without_allocator_is_said(procs):
    lt = procs(leaktop("--json", "-i", "0.3", "--", "sh", "-c", f"exec {target('nomalloc')}"))
    wait_stderr(lt, "maps no allocator since its exec", 30)
    assert "maps no allocator since its exec" in lt.stderr()


def test_attach_after_the_allocator_was_replaced_on_disk(procs, tmp_path):
    # The target runs a private copy of libc; a package upgrade has renamed a
    # new file over it (its maps say "(deleted)"): the file it maps is probed.
    libc = tmp_path / "libc.so.6"
    shutil.copy(mapped_path(os.getpid(), "libc.so.6"), libc)
    tgt = procs([target("exact"), "--wait"], env=dict(os.environ, LD_LIBRARY_PATH=str(tmp_path)))
    tgt.wait_line("waiting", 10)
    assert mapped_path(tgt.pid, "libc.so.6") == str(libc)
    shutil.copy(libc, tmp_path / "libc.so.6.new")
    os.rename(tmp_path / "libc.so.6.new", libc)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 10)
    stack = find_stack(lt.fresh_json(2, 10), "keep_blocks")
    assert stack["outstanding_bytes"] == 100 * 1000 and stack["outstanding_allocs"] == 100
    assert "libc.so.6 (replaced on disk: the file it maps is probed)" in lt.stderr()


def test_children_are_not_traced(procs):
    # The shell forks `exact` as a child (no exec in place): leaktop traces the shell only.
    lt = procs(leaktop("--json", "-i", "0.3", "-c", "5", "--",
                       "sh", "-c", f"{target('exact')} > /dev/null & sleep 3; kill $!"))
    reports = lt.all_json(30)
    for report in reports:
        callers = [s["frames"][1]["function"] for s in report["stacks"] if len(s["frames"]) > 1]
        assert "keep_blocks" not in callers
    # Positive control: the shell itself is traced (its job table is malloc'd).
    shell = os.path.realpath("/bin/sh")
    assert any(s["outstanding_allocs"] > 0 and len(s["frames"]) > 1 and s["frames"][1]["object"] == shell
               for report in reports for s in report["stacks"]), reports[-1:]


def test_thread_churn(procs):
    report_threads = 50 * 4 * 512
    lt = procs(leaktop("--json", "-i", "0.3", "--", target("threads")))
    while (line := lt.read_line(20)) is not None and line != "ready":
        pass
    report = lt.json_lines(2, 10)[-1]
    assert find_stack(report, "thread_keep")["outstanding_bytes"] == report_threads
    assert report["lost_events"] == 0


def test_sighup_stops_cleanly(procs):
    before = leaktop_links()
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3"))
    lt.json_lines(1, 15)
    os.kill(lt.pid, signal.SIGHUP)
    assert lt.wait(10) == 0
    assert no_links_left(before)


def test_closed_pipe_stops_cleanly(procs):
    before = leaktop_links()
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    result = subprocess.run(f"{LEAKTOP} -p {tgt.pid} -b -i 0.2 | head -1; echo ${{PIPESTATUS[0]}}",
                            shell=True, executable="/bin/bash", capture_output=True, text=True,
                            timeout=30)
    lines = result.stdout.splitlines()
    assert lines[0].startswith("leaktop ")
    assert lines[-1] == "0"  # leaktop saw EPIPE and stopped normally
    assert no_links_left(before)
    assert tgt.popen.poll() is None


def test_target_output_is_unchanged(tmp_path):
    """A deterministic program prints the same bytes with and without leaktop."""
    program = ["sh", "-c", "for i in $(seq 1 200); do echo line $i; done | sort | md5sum; "
                           "ls -la /usr/include/stdio.h"]
    plain = subprocess.run(program, capture_output=True, text=True, timeout=30).stdout
    traced_out = tmp_path / "out"
    with open(traced_out, "w") as out:
        subprocess.run([LEAKTOP, "-q", "--folded", str(tmp_path / "f"), "-i", "0.2", "--",
                        *program], stdout=out, stderr=subprocess.DEVNULL, timeout=60, check=True)
    assert traced_out.read_text() == plain
    # Positive control: the shell was traced while it ran (its blocks left at exit).
    folded = (tmp_path / "f").read_text().splitlines()
    assert any(line.rsplit(" ", 1)[-1] != "0" for line in folded), folded[:5]


def test_dlopen_and_dlclose(procs):
    tgt = procs([target("dlopen"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 10)
    report = lt.fresh_json(2, 10)
    stacks = [s for s in report["stacks"]
              if len(s["frames"]) > 1 and s["frames"][1]["function"] == "plugin_cache_entry"]
    # Both rounds are attributed to the library, whichever address it was loaded at.
    assert sum(s["outstanding_bytes"] for s in stacks) == 16 * 2222
    for stack in stacks:
        assert stack["frames"][1]["object"].endswith("/libleaky.so")
        assert stack["frames"][1]["file"].endswith("libleaky.c")
    wrong = [s for s in report["stacks"] if s["outstanding_bytes"] % 2222 == 0
             and s["outstanding_bytes"] and s not in stacks
             and s["frames"][0]["function"] == "malloc" and len(s["frames"]) == 1]
    assert not wrong


def test_target_killed(procs):
    before = leaktop_links()
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3"))
    lt.json_lines(2, 15)
    os.kill(tgt.pid, signal.SIGKILL)
    reports = lt.all_json(15)
    assert lt.wait(5) == 0
    assert f"PID {tgt.pid} (leak_rate) exited" in lt.stderr()
    assert reports and find_stack(reports[-1], "leak_slowly")["outstanding_bytes"] > 0
    assert no_links_left(before)


def test_full_stack_map_is_counted(procs):
    # Debian's python3.11 running py_alloc.py makes thousands of distinct stacks
    # (exact.c makes 15: no longer enough since stacks are deduplicated exactly).
    lt = procs(leaktop("--json", "-i", "0.3", "-n", "100", "--max-stacks", "16", "--",
                       "/usr/bin/python3.11", TARGET_SOURCES / "py_alloc.py", "--delay", "0"))
    while (line := lt.read_line(60)) is not None and line != "ready":
        pass
    report = lt.json_lines(2, 10)[-1]
    assert report["lost_events"] > 0
    # Said why: stacks found no slot or no room in the stack map; the
    # allocations map (262144 entries) is far from full.
    reasons = report["lost_by_reason"]
    assert sum(n for why, n in reasons.items() if why != "walks_cut_short") == report["lost_events"], reasons
    assert reasons.get("no_stack_slot", 0) + reasons.get("stack_map_full", 0) > 0, reasons
    assert "allocs_map_full" not in reasons, reasons
    # At most one stack per slot holds memory (a stack that gave its slot back
    # may still be listed a while, at 0 B with the fall of its growth window).
    holding = [st for st in report["stacks"] if st["outstanding_bytes"] or st["outstanding_allocs"]]
    assert len(holding) <= 16, [(st["outstanding_bytes"], st["growth_bytes_per_s"],
                                 [f["function"] for f in st["frames"]][:4]) for st in report["stacks"]]
    for stack in report["stacks"]:  # what is tracked is never negative
        assert stack["outstanding_bytes"] >= 0 and stack["outstanding_allocs"] >= 0
    assert lt.stderr().count("run with a larger --max-stacks") == 1, lt.stderr()
