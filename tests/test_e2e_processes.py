"""Whole services: several processes traced at once (-p PID,PID, --children,
--cgroup), checked against the targets' own counts: a prefork server's
workers (the parent's table is not theirs), gunicorn's workers answering
requests the test counts, processes coming and going."""
import collections
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import LEAKTOP, TARGET_SOURCES, alloc_line, caller_name, children_of, fdinfo, find_stack, leaktop, target

TABLE_SIZE = 8 << 20
BLOCKS, BLOCK_SIZE = 100, 10000
WSGI_DIR = str(TARGET_SOURCES)
LEAK_BYTES = 102400
PYOBJ_HEADER_MAX = 64  # a bytes object's header over its payload


def traced_pids(lt):
    """PIDs leaktop said it traces (its stderr 'tracing PID N' lines)."""
    pids = set()
    for line in list(lt.stderr_lines):
        if line.startswith("leaktop: tracing PID "):
            pids.add(int(line.split()[3]))
    return pids


def wait_traced(lt, pids, timeout=60):
    deadline = time.monotonic() + timeout
    while not set(pids) <= traced_pids(lt):
        assert time.monotonic() < deadline, f"not all of {pids} traced: {lt.stderr()}"
        time.sleep(0.05)


def report_where(lt, ok, timeout=60):
    """The first report from now on for which ok(report) holds."""
    lt.drain()
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = lt.json_lines(1, timeout)[0]
        if ok(last):
            return last
    raise AssertionError(f"no report as wanted within {timeout}s; last: {last}")


def by_pid(report):
    return {p["pid"]: p for p in report["processes"]}


def start_prefork(procs, workers):
    tgt = procs([target("prefork"), str(workers), "--wait"])
    tgt.wait_line("waiting", 10)
    return tgt


def read_workers(tgt, n):
    pids = []
    while len(pids) < n:
        line = tgt.read_line(15)
        assert line is not None, "prefork ended early"
        if line.startswith("worker "):
            pids.append(int(line.split()[1]))
    return pids


def prefork_leaked(procs, n, *leaktop_args):
    """prefork with n workers under leaktop -p PARENT --children: the table
    built, the workers traced, then each one's blocks leaked."""
    tgt = start_prefork(procs, n)
    lt = procs(leaktop("-p", tgt.pid, "--children", "--json", "-i", "0.5", *leaktop_args))
    lt.json_lines(1, 30)
    os.kill(tgt.pid, signal.SIGUSR1)  # build the table, fork the workers
    workers = read_workers(tgt, n)
    wait_traced(lt, workers)
    for pid in workers:  # each worker leaks once it is traced
        os.kill(pid, signal.SIGUSR1)
    leaked = set()
    while len(leaked) < n:
        line = tgt.read_line(15)
        assert line is not None
        if line.startswith("leaked "):
            leaked.add(int(line.split()[1]))
    return tgt, lt, workers


def test_prefork_workers_count_their_own_leak_not_the_parents_table(procs):
    tgt, lt, workers = prefork_leaked(procs, 3)
    report = report_where(lt, lambda r: all(p in by_pid(r) for p in workers) and
                          sum(by_pid(r)[p]["outstanding_bytes"] for p in workers) >= 3 * BLOCKS * BLOCK_SIZE)
    procs_ = by_pid(report)
    # The parent holds its table; each worker exactly its own blocks (its
    # copy of the table, freed, is not negative growth).
    assert procs_[tgt.pid]["outstanding_bytes"] == TABLE_SIZE
    for pid in workers:
        assert procs_[pid]["outstanding_bytes"] == BLOCKS * BLOCK_SIZE, procs_[pid]
        assert procs_[pid]["outstanding_allocs"] == BLOCKS
    table = find_stack(report, "build_table")
    assert table["outstanding_bytes"] == TABLE_SIZE and table["processes"] == 1
    leak = find_stack(report, "worker_leak")
    assert leak["outstanding_bytes"] == 3 * BLOCKS * BLOCK_SIZE and leak["processes"] == 3
    assert leak["frames"][1]["line"] == alloc_line("prefork.c", "worker_leak")
    assert report["outstanding_bytes"] == TABLE_SIZE + 3 * BLOCKS * BLOCK_SIZE
    assert report["pid"] == tgt.pid


def test_exited_worker_leaves_the_totals(procs):
    tgt, lt, workers = prefork_leaked(procs, 2)
    full = TABLE_SIZE + 2 * BLOCKS * BLOCK_SIZE
    report_where(lt, lambda r: r["outstanding_bytes"] == full)
    # The live records in the allocations map the processes share: the
    # table's, and each worker's blocks under its own index.
    assert sorted(allocs_processes(lt.pid).values()) == [1, BLOCKS, BLOCKS]
    os.kill(workers[0], signal.SIGKILL)
    report = report_where(lt, lambda r: workers[0] not in by_pid(r))
    assert sorted(allocs_processes(lt.pid).values()) == [1, BLOCKS]  # the dead one's records left
    assert report["outstanding_bytes"] == TABLE_SIZE + BLOCKS * BLOCK_SIZE
    leak = find_stack(report, "worker_leak")
    assert leak["processes"] == 1
    # The frames the processes shared are still the survivor's.
    assert leak["frames"][1]["line"] == alloc_line("prefork.c", "worker_leak")
    functions = [f["function"] for f in leak["frames"]]
    assert functions[1] == "worker_leak" and "main" in functions, functions
    assert by_pid(report)[workers[1]]["outstanding_bytes"] == BLOCKS * BLOCK_SIZE


def test_pid_list_traces_two_unrelated_programs(procs):
    a = start_prefork(procs, 0)  # its table only
    b = procs([target("leak_rate"), "--wait"])
    b.wait_line("waiting", 10)
    lt = procs(leaktop("-p", f"{a.pid},{b.pid}", "--json", "-i", "0.5"))
    lt.json_lines(1, 30)
    os.kill(a.pid, signal.SIGUSR1)
    os.kill(b.pid, signal.SIGUSR1)
    a.wait_line("ready", 15)
    b.wait_line("ready", 15)
    report = report_where(lt, lambda r: r["outstanding_bytes"] >= TABLE_SIZE + (10 << 20))
    assert set(by_pid(report)) == {a.pid, b.pid}
    assert by_pid(report)[a.pid]["outstanding_bytes"] == TABLE_SIZE
    assert find_stack(report, "build_table")["outstanding_bytes"] == TABLE_SIZE
    big = find_stack(report, "big_static")
    assert big["outstanding_bytes"] == 10 << 20 and big["processes"] == 1
    # leak_rate's own leak (10240 B every 100 ms) is its, not prefork's.
    assert by_pid(report)[b.pid]["outstanding_bytes"] == report["outstanding_bytes"] - TABLE_SIZE
    # The batch text names both, with what each holds since this run attached.
    text = subprocess.run([LEAKTOP, "-p", f"{a.pid},{b.pid}", "-b", "-c", "1", "-i", "0.2"], capture_output=True,
                          text=True, timeout=60).stdout
    assert f"2 processes: {a.pid} (prefork) 0 B, {b.pid} (leak_rate) " in text, text


def test_pid_list_with_a_bad_pid_is_a_usage_error(procs):
    a = start_prefork(procs, 0)
    bad = 4000000
    while os.path.exists(f"/proc/{bad}"):
        bad += 1
    result = subprocess.run([LEAKTOP, "-p", f"{a.pid},{bad}", "-c", "1"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2, result.stderr
    assert str(bad) in result.stderr and result.stderr.count("\n") == 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_argv(port):
    return ["gunicorn", "-w", "4", "-b", f"127.0.0.1:{port}", "--chdir", WSGI_DIR, "wsgi_leak:app"]


def wait_workers(master, n=4, timeout=30):
    deadline = time.monotonic() + timeout
    while len(children_of(master)) < n:
        assert time.monotonic() < deadline, f"gunicorn {master} has no {n} workers"
        time.sleep(0.1)
    return children_of(master)


def request(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
        return int(r.read())


class Client:
    """Sends requests at a fixed rate (absolute deadlines) and counts the
    answers of each worker: the truth the figures are checked against."""

    def __init__(self, port):
        self.port = port
        self.answered = collections.Counter()
        self.times = []

    def send(self, n, rate=None):
        next_t = time.monotonic()
        for _ in range(n):
            self.answered[request(self.port)] += 1
            self.times.append(time.monotonic())
            if rate:
                next_t += 1 / rate
                time.sleep(max(0, next_t - time.monotonic()))

    def total(self):
        return sum(self.answered.values())


def leak_stacks(report):
    """The stacks whose innermost Python frame is the leaking line (a worker
    forked from another line of gunicorn's master has a stack of its own)."""
    line = alloc_line_py()
    found = []
    for stack in report["stacks"]:
        frames = [f for f in stack["frames"] if f["kind"] == "python"]
        if frames and (frames[0]["file"] or "").endswith("wsgi_leak.py") and frames[0]["line"] == line:
            found.append(stack)
    return found


def leak_stack(report):
    """The leaking line's stack (the one of the workers started with the master)."""
    found = leak_stacks(report)
    return max(found, key=lambda s: s["outstanding_bytes"]) if found else None


def alloc_line_py():
    for number, text in enumerate((TARGET_SOURCES / "wsgi_leak.py").read_text().splitlines(), 1):
        if "LEAK:blob" in text:
            return number
    raise AssertionError("no LEAK:blob line")


def leaked(report):
    return sum(s["outstanding_allocs"] for s in leak_stacks(report))


def check_exact(stack, requests):
    """One block per request, of the bytes object's size (payload + header)."""
    assert stack["outstanding_allocs"] == requests, (stack["outstanding_allocs"], requests)
    size = stack["outstanding_bytes"] / requests
    assert size == int(size) and LEAK_BYTES <= size <= LEAK_BYTES + PYOBJ_HEADER_MAX, size
    return int(size)


@pytest.mark.skipif(not os.path.exists("/usr/bin/gunicorn"), reason="gunicorn not installed (scripts/install-deps.sh)")
def test_gunicorn_master_children_one_stack_at_the_total_rate(procs):
    port = free_port()
    master = procs(gunicorn_argv(port))
    workers = wait_workers(master.pid)
    lt = procs(leaktop("-p", master.pid, "--children", "--json", "-i", "0.5", "--window", "4"))
    wait_traced(lt, [master.pid, *workers])
    client = Client(port)
    rate = 20  # requests per second, in all
    client.send(int(rate * 7), rate)
    t_end = client.times[-1]
    report = report_where(lt, lambda r: leaked(r) >= client.total())
    stack = leak_stack(report)
    size = check_exact(stack, client.total())
    # The rate over the growth window: what the client achieved in its last 4 s.
    recent = [t for t in client.times if t > t_end - 4]
    true_rate = (len(recent) - 1) / (recent[-1] - recent[0]) * size
    assert abs(stack["growth_bytes_per_s"] - true_rate) <= 0.15 * true_rate, (stack["growth_bytes_per_s"], true_rate)
    assert stack["processes"] == len([w for w in workers if client.answered[w]])
    procs_ = by_pid(report)
    assert set(procs_) == {master.pid, *workers}
    worker_growth = sum(procs_[w]["growth_bytes_per_s"] for w in workers)
    assert abs(worker_growth - stack["growth_bytes_per_s"]) <= 0.15 * stack["growth_bytes_per_s"]
    for w in workers:  # each worker's own requests, and little else (a list's array)
        assert client.answered[w] * size <= procs_[w]["outstanding_bytes"] <= client.answered[w] * size + (64 << 10)

    # A worker killed: gunicorn starts another, which is traced; the dead
    # one's figures leave.
    victim = max(workers, key=lambda w: client.answered[w])
    os.kill(victim, signal.SIGKILL)
    report = report_where(lt, lambda r: victim not in by_pid(r) and len(by_pid(r)) == 5)
    fresh = set(by_pid(report)) - {master.pid, *workers}
    assert len(fresh) == 1 and fresh <= set(children_of(master.pid))
    kept = client.total() - client.answered[victim]
    assert leaked(report) == kept
    before = client.total()
    deadline = time.monotonic() + 30
    while not client.answered[next(iter(fresh))]:  # until the new worker answered some
        assert time.monotonic() < deadline
        client.send(4)
    report = report_where(lt, lambda r: leaked(r) >= kept + client.total() - before)
    assert leaked(report) == kept + client.total() - before
    assert sum(s["outstanding_bytes"] for s in leak_stacks(report)) == leaked(report) * size
    assert by_pid(report)[next(iter(fresh))]["outstanding_bytes"] >= client.answered[next(iter(fresh))] * size


@pytest.mark.skipif(not os.path.exists("/usr/bin/gunicorn"), reason="gunicorn not installed (scripts/install-deps.sh)")
def test_gunicorn_spawned_follows_workers_by_default(procs):
    port = free_port()
    lt = procs(leaktop("--json", "-i", "0.5", "--", *gunicorn_argv(port)))
    deadline = time.monotonic() + 30
    while not children_of(lt.pid):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    master = children_of(lt.pid)[0]
    workers = wait_workers(master)
    wait_traced(lt, [master, *workers])
    client = Client(port)
    client.send(60)
    report = report_where(lt, lambda r: leaked(r) >= client.total())
    check_exact(leak_stack(report), client.total())
    assert leak_stack(report)["processes"] == len([w for w in workers if client.answered[w]])
    assert {master, *workers} == set(by_pid(report))


def test_prometheus_per_process_totals(procs, tmp_path):
    prom = tmp_path / "leaktop.prom"
    tgt, lt, workers = prefork_leaked(procs, 2, "--prom-file", prom)
    report_where(lt, lambda r: r["outstanding_bytes"] == TABLE_SIZE + 2 * BLOCKS * BLOCK_SIZE)
    lt.json_lines(1, 30)  # the file of that interval is written
    series = {}
    for line in prom.read_text().splitlines():
        if line.startswith("leaktop_process_outstanding_bytes{") or line.startswith("leaktop_stack_outstanding_bytes{"):
            name, value = line.rsplit(" ", 1)
            series[name] = float(value)
    per_process = {int(k.split('pid="')[1].split('"')[0]): v for k, v in series.items()
                   if k.startswith("leaktop_process_")}
    assert per_process == {tgt.pid: TABLE_SIZE, workers[0]: BLOCKS * BLOCK_SIZE, workers[1]: BLOCKS * BLOCK_SIZE}
    stacks = [k for k in series if k.startswith("leaktop_stack_")]
    # One series per stack (summed over the workers), plus "other".
    assert sum(1 for k in stacks if "worker_leak" in k) == 1
    assert next(v for k, v in series.items() if "worker_leak" in k) == 2 * BLOCKS * BLOCK_SIZE
    if subprocess.run(["which", "promtool"], capture_output=True).returncode == 0:
        check = subprocess.run(["promtool", "check", "metrics"], input=prom.read_text(), capture_output=True, text=True)
        assert check.returncode == 0, check.stderr + check.stdout


def fd_kinds(pid):
    """BPF maps, programs, links, BTF, pidfds held by the process (files are
    left out: the symbolizer of a long-lived process may open a debug file
    for a new stack of its own, and keeps it; sockets too: the first lookup
    of a file without debug information loads libdw's debuginfod client,
    whose curl makes one socket pair for the life of leaktop)."""
    kinds = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("anon_inode:"):
            kinds[link] += 1
    return kinds


def allocs_processes(pid):
    """The process indexes (the high 16 bits of the keys) of the records in
    leaktop's shared allocations table (bpf/alloc_table.h: an array of
    buckets of 8 keys then 8 record words, the last element a counter)."""

    ids = {info["map_id"] for info in fdinfo(pid) if info.get("map_type") == "2" and "map_id" in info}
    indexes = collections.Counter()
    for map_id in ids:
        show = json.loads(subprocess.run(["bpftool", "-j", "map", "show", "id", map_id],
                                         capture_output=True, text=True).stdout or "{}")
        if show.get("name") != "allocs":
            continue
        dump = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "id", map_id],
                                         capture_output=True, text=True).stdout or "[]")
        for entry in dump[:-1]:
            value = bytes(int(x, 16) for x in entry["value"])
            words = [int.from_bytes(value[i:i + 8], "little") for i in range(0, len(value), 8)]
            for key, word in zip(words[:8], words[8:]):
                if key > 1 and word:
                    indexes[key >> 48] += 1
    return indexes


def test_short_lived_children_leave_nothing_behind(procs, tmp_path):
    """64 children a second for 10 s (each living 1 s: some are traced,
    most are gone before they are) beside long-lived workers: leaktop's
    descriptors (maps, links, pidfds) come back to where they were, and the
    workers' leaks made meanwhile are all counted."""
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    # read -t is bash's own sleep: the only children are the sleep ones.
    loop = (f"exec 3<{fifo}; read -u 3 go; "
            "for i in $(seq 640); do sleep 1 & read -t 0.015625 -u 3 x; done; wait; echo done; "
            "read -u 3 x")
    shell = procs(["bash", "-c", loop])
    tgt = start_prefork(procs, 2)
    lt = procs(leaktop("-p", f"{tgt.pid},{shell.pid}", "--children", "--json", "-i", "0.5"))
    lt.json_lines(1, 30)
    os.kill(tgt.pid, signal.SIGUSR1)
    workers = read_workers(tgt, 2)
    wait_traced(lt, workers)
    report_where(lt, lambda r: set(by_pid(r)) == {tgt.pid, shell.pid, *workers})
    start = fd_kinds(lt.pid)
    start_indexes = set(allocs_processes(lt.pid))
    with open(fifo, "w") as go:
        go.write("go\n")
        go.flush()
        time.sleep(2)  # the churn is under way (not a timing: the counts below are exact)
        for pid in workers:
            os.kill(pid, signal.SIGUSR1)
        shell.wait_line("done", 120)
        report = report_where(lt, lambda r: set(by_pid(r)) == {tgt.pid, shell.pid, *workers}, timeout=120)
        deadline = time.monotonic() + 60
        while fd_kinds(lt.pid) != start:
            assert time.monotonic() < deadline, f"leaktop holds {fd_kinds(lt.pid)}, {start} before"
            time.sleep(0.1)
        # The records of the children traced meanwhile left with them.
        assert set(allocs_processes(lt.pid)) <= start_indexes | {0, 1, 2, 3}
        traced_true = sum(1 for line in lt.stderr_lines if "(sleep) too" in line or "(bash) too" in line)
        for pid in workers:
            assert by_pid(report)[pid]["outstanding_bytes"] == BLOCKS * BLOCK_SIZE
        assert find_stack(report, "worker_leak")["outstanding_bytes"] == 2 * BLOCKS * BLOCK_SIZE
        print(f"short-lived children traced: {traced_true}")
        go.write("end\n")


def cgroup2_root():
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


@pytest.fixture
def cgroup():
    """A cgroup v2 directory of the test's own, its processes moved back to
    the root cgroup and the directory removed afterwards."""
    root = cgroup2_root()
    if not root:
        pytest.skip("no cgroup v2 hierarchy mounted")
    path = os.path.join(root, f"leaktop-test-{os.getpid()}")
    os.mkdir(path)
    yield path
    with open(os.path.join(path, "cgroup.procs")) as f:
        left = f.read().split()
    for pid in left:
        try:
            with open(os.path.join(root, "cgroup.procs"), "w") as f:
                f.write(pid)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    while True:
        try:
            os.rmdir(path)
            return
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.1)


def move(pid, cgroup_dir):
    with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
        f.write(str(pid))


def test_cgroup_processes_moved_in_and_out(procs, cgroup):
    a = start_prefork(procs, 0)
    b = start_prefork(procs, 0)
    c = start_prefork(procs, 0)
    move(a.pid, cgroup)
    move(b.pid, cgroup)
    lt = procs(leaktop("--cgroup", cgroup, "--json", "-i", "0.5"))
    report_where(lt, lambda r: set(by_pid(r)) == {a.pid, b.pid})
    for p in (a, b):
        os.kill(p.pid, signal.SIGUSR1)
        p.wait_line("ready", 15)
    report = report_where(lt, lambda r: r["outstanding_bytes"] == 2 * TABLE_SIZE)
    assert find_stack(report, "build_table")["processes"] == 2
    move(b.pid, cgroup2_root())  # out: it leaves with its figures
    report = report_where(lt, lambda r: set(by_pid(r)) == {a.pid})
    assert report["outstanding_bytes"] == TABLE_SIZE
    move(c.pid, cgroup)  # in: traced from now on
    report_where(lt, lambda r: set(by_pid(r)) == {a.pid, c.pid})
    wait_traced(lt, [c.pid])
    os.kill(c.pid, signal.SIGUSR1)
    c.wait_line("ready", 15)
    report = report_where(lt, lambda r: r["outstanding_bytes"] == 2 * TABLE_SIZE)
    assert by_pid(report)[c.pid]["outstanding_bytes"] == TABLE_SIZE
    assert report["pid"] == a.pid


def test_cgroup_and_unit_not_found(procs, tmp_path):
    result = subprocess.run([LEAKTOP, "--cgroup", str(tmp_path), "-c", "1"], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and "not a cgroup v2 directory" in result.stderr, result.stderr
    result = subprocess.run([LEAKTOP, "--unit", "leaktop-no-such-unit", "-c", "1"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert "unit leaktop-no-such-unit not found: no cgroup named leaktop-no-such-unit.service" in result.stderr


def test_unit_resolves_to_its_cgroup(procs):
    """A unit's cgroup is found by its name (system.slice/NAME.service, as
    systemd names it), here made by the test when systemd is not PID 1."""
    root = cgroup2_root()
    if not root:
        pytest.skip("no cgroup v2 hierarchy mounted")
    unit = f"leaktop-test-{os.getpid()}.service"
    made_slice = not os.path.isdir(os.path.join(root, "system.slice"))
    if made_slice:
        os.mkdir(os.path.join(root, "system.slice"))
    path = os.path.join(root, "system.slice", unit)
    os.mkdir(path)
    try:
        a = start_prefork(procs, 0)
        move(a.pid, path)
        lt = procs(leaktop("--unit", unit.removesuffix(".service"), "--json", "-i", "0.5"))
        report_where(lt, lambda r: set(by_pid(r)) == {a.pid})
        lt.wait_stderr(f"tracing cgroup {path}", 10)
        lt.kill()
        move(a.pid, root)
    finally:
        os.rmdir(path)
        if made_slice:
            os.rmdir(os.path.join(root, "system.slice"))


def test_full_shared_map_is_counted_and_said_once(procs):
    """The processes share one allocations map: when it is full, what does not
    fit is counted (lost events) and said once, not once per process."""
    tgt, lt, workers = prefork_leaked(procs, 3, "--max-allocs", "128")
    report = report_where(lt, lambda r: r["lost_events"] > 0)
    # 128 records at most: the parent's table and the first of the blocks.
    assert report["outstanding_allocs"] <= 128
    assert report["outstanding_allocs"] + report["lost_events"] >= 1 + 3 * BLOCKS
    lt.json_lines(2, 30)
    said = [line for line in lt.stderr_lines if "the most --max-allocs allows" in line]
    assert len(said) == 1, said
    assert "128 live allocations" in said[0]


def load_base(pid, path):
    """Where process pid maps the file at path: its first mapping's start
    less the file offset, from /proc/PID/maps (the kernel's truth)."""
    real = os.path.realpath(path)
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 6 and fields[5] == real:
                return int(fields[0].split("-")[0], 16) - int(fields[2], 16)
    raise AssertionError(f"{real} not mapped in {pid}")


def test_same_binary_at_two_load_addresses_each_named_right(procs):
    """Symbols are read once per object and shared by the processes, but
    each process maps it at its own base: both processes' stacks must name
    the target's own functions and ALLOC lines, and so merge into one stack
    per call site held by both (a frame translated with the other process's
    base would name other code, or nothing, and split the stacks)."""
    from test_e2e_exact import EXPECTED
    exact = target("exact")
    # One without address randomization, one with: their bases differ.
    fixed = procs(["setarch", os.uname().machine, "-R", exact, "--wait"])
    aslr = procs([exact, "--wait"])
    for tgt in (fixed, aslr):
        tgt.wait_line("waiting", 10)
    assert load_base(fixed.pid, exact) != load_base(aslr.pid, exact)
    lt = procs(leaktop("-p", f"{fixed.pid},{aslr.pid}", "--json", "-i", "0.5", "-n", "60"))
    lt.json_lines(1, 30)
    wait_traced(lt, [fixed.pid, aslr.pid])
    for tgt in (fixed, aslr):
        os.kill(tgt.pid, signal.SIGUSR1)
        tgt.wait_line("ready", 15)

    def complete(report):
        return sum(p["outstanding_bytes"] for p in report["processes"]) == \
            2 * sum(size for _, size, _ in EXPECTED.values())

    report = report_where(lt, complete)
    for caller, (allocator, size, count) in EXPECTED.items():
        stack = find_stack(report, caller)
        frames = stack["frames"]
        assert stack["processes"] == 2, (caller, stack)
        assert stack["outstanding_bytes"] == 2 * size, caller
        assert stack["outstanding_allocs"] == 2 * count, caller
        assert frames[0]["object"].endswith("/libc.so.6")
        assert frames[1]["function"] == caller
        assert frames[1]["file"].endswith("exact.c") and frames[1]["object"] == os.path.realpath(exact)
        assert frames[1]["line"] == alloc_line("exact.c", caller), caller
        assert frames[2]["function"] == "main" and frames[2]["file"].endswith("exact.c"), frames
    # No stray stack: each call site is one stack, the same in both.
    sites = [s for s in report["stacks"] if s["outstanding_bytes"]]
    assert len(sites) == len(EXPECTED), [(s["frames"][1:2], s["processes"]) for s in sites]


def files_open(pid, path):
    """How many descriptors process pid holds on the file at path."""
    real, n = os.path.realpath(path), 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}") == real
        except OSError:
            pass  # closed meanwhile
    return n


def test_objects_only_an_exited_process_mapped_are_closed(procs):
    """The processes share the objects they map; one that exits takes the
    objects only it mapped with it (leaktop's descriptors on its program
    close, and the DWARF read for it is freed) even if no other process
    makes a new stack to name afterwards."""
    steady = procs([target("leak_rate")])
    steady.wait_line("ready", 10)
    other = procs([target("exact"), "--wait"])
    other.wait_line("waiting", 10)
    lt = procs(leaktop("-p", f"{steady.pid},{other.pid}", "--json", "-i", "0.5"))
    lt.json_lines(1, 30)
    wait_traced(lt, [steady.pid, other.pid])
    assert files_open(lt.pid, target("exact")) > 0  # (the check sees them)
    os.kill(other.pid, signal.SIGKILL)
    report_where(lt, lambda r: other.pid not in by_pid(r))
    lt.json_lines(1, 30)
    assert files_open(lt.pid, target("exact")) == 0
    assert files_open(lt.pid, target("leak_rate")) > 0  # the steady one's stay


def leaktop_rss_kib(procs, n):
    """leaktop's resident memory tracing n leak_rate processes (-p list),
    once every one's leak is symbolized and counted."""
    tgts = [procs([target("leak_rate")]) for _ in range(n)]
    for tgt in tgts:
        tgt.wait_line("ready", 15)
    pids = [t.pid for t in tgts]
    lt = procs(leaktop("-p", ",".join(str(p) for p in pids), "--json", "-i", "0.5"))
    wait_traced(lt, pids)

    def all_leaking(report):
        stacks = [s for s in report["stacks"] if caller_name(s) == "leak_slowly"]
        # (One process: no per-process figures in the report.)
        return any(s.get("processes", 1) == n and s["outstanding_bytes"] for s in stacks)

    report_where(lt, all_leaking)
    lt.json_lines(2, 30)  # (anything read lazily is read by now)
    with open(f"/proc/{lt.pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    lt.kill()
    for tgt in tgts:
        tgt.kill()
    return rss


def test_leaktop_memory_does_not_multiply_with_workers_of_one_binary(procs):
    """The objects' symbols (libc's DWARF: megabytes) are read once for the
    processes of a session, not once per process: with 8 processes of one
    binary leaktop holds well under 8 times what it holds with 1 (before
    the store was shared: 5.4 times)."""
    one = leaktop_rss_kib(procs, 1)
    eight = leaktop_rss_kib(procs, 8)
    assert eight < 3 * one, (one, eight)
