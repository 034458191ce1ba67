"""Least privilege: leaktop runs as an unprivileged user with only the
capabilities docs/privileges.md lists, and names what is missing otherwise."""
import json
import os
import signal
import subprocess

import pytest

from conftest import LEAKTOP, find_stack, target


def nobody_argv(caps, *args):
    """leaktop run as user nobody holding exactly `caps` (ambient capabilities)."""
    grant = ",".join(f"+{c}" for c in caps)
    setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    setpriv += [f"--inh-caps={grant}", f"--ambient-caps={grant}"] if caps else ["--inh-caps=-all"]
    return [*setpriv, LEAKTOP, *args]


def as_nobody(caps, *args, env=None):
    return subprocess.run(nobody_argv(caps, *args), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env=env)


# Without uprobe_multi links (kernels before 6.6), uprobes are perf events.
PERF_EVENT_UPROBES = dict(os.environ, LEAKTOP_NO_UPROBE_MULTI="1")


def test_runs_with_only_the_documented_capabilities(procs):
    tgt = procs([target("exact"), "--wait"])  # a root-owned process
    tgt.wait_line("waiting", 10)
    lt = procs(nobody_argv(["sys_admin", "sys_ptrace"], "-p", str(tgt.pid), "--json", "-i", "0.3",
                           "-n", "50"))
    lt.json_lines(1, 15)  # attached
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    # What it sees is right, not only that it runs.
    assert find_stack(lt.fresh_json(2, 15), "keep_blocks")["outstanding_bytes"] == 100000


def test_spawn_with_only_the_documented_capabilities():
    result = as_nobody(["sys_admin", "sys_ptrace"], "--json", "-i", "0.5", "-c", "2", "-n", "50",
                       "--", target("exact"))
    assert result.returncode == 0, result.stderr
    report = json.loads([l for l in result.stdout.splitlines() if l.startswith("{")][-1])
    assert find_stack(report, "keep_blocks")["outstanding_bytes"] == 100000


def test_uprobe_multi_needs_no_sys_admin():
    """uprobe_multi links need CAP_BPF and CAP_PERFMON only, unlike the
    uprobe perf events of the fallback."""
    result = as_nobody(["bpf", "perfmon", "sys_ptrace"], "--json", "-i", "0.5", "-c", "2",
                       "-n", "50", "--", target("exact"))
    assert result.returncode == 0, result.stderr
    report = json.loads([l for l in result.stdout.splitlines() if l.startswith("{")][-1])
    assert find_stack(report, "keep_blocks")["outstanding_bytes"] == 100000


@pytest.mark.parametrize("caps, missing", [
    ([], "CAP_BPF"),
    (["bpf"], "CAP_PERFMON"),
    (["bpf", "perfmon"], "CAP_SYS_PTRACE"),
    (["sys_admin"], "CAP_SYS_PTRACE"),
    (["bpf", "perfmon", "sys_ptrace"], "CAP_SYS_ADMIN"),  # uprobe perf events, see docs
])
def test_missing_capability_is_named(procs, caps, missing):
    tgt = procs([target("leak_rate")])
    result = as_nobody(caps, "-p", str(tgt.pid), "-c", "1", env=PERF_EVENT_UPROBES)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert missing in result.stderr
