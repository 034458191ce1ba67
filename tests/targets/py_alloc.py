"""Known Python allocations from known lines, for leaktop's tests.

    py_alloc.py --tracemalloc  runs the work under tracemalloc and prints, as
                               one JSON object, tracemalloc's outstanding bytes
                               per line of this file; then exits
    py_alloc.py --wait         prints "waiting", waits for SIGUSR1, does the
                               work, prints "arenas allocated A reclaimed R"
                               (pymalloc's own count over the work) and "ready";
                               on the next SIGUSR1 drops everything, works
                               again, prints "again"
    py_alloc.py --delay S      sleeps S seconds (leaktop attaches), does the
                               work, prints "ready" and sleeps
The work is deterministic, so the two runs allocate the same."""
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time

kept = []


def keep_small():
    for i in range(20000):
        kept.append({"n": i})  # ALLOC:dicts
        kept.append([i, i, i])  # ALLOC:lists
        kept.append("s%d" % i)  # ALLOC:strings


def keep_big():
    for _ in range(20):
        kept.append(bytes(200000))  # ALLOC:big


def churn():
    for i in range(50000):
        x = [i] * 10  # ALLOC:churn
        del x


def recurse(n):
    if n == 0:
        kept.append(bytes(300000))  # ALLOC:deep
    else:
        recurse(n - 1)


def thread_a_keeps():
    for _ in range(10):
        kept.append(bytes(100000))  # ALLOC:thread_a
        time.sleep(0.001)


def thread_b_keeps():
    for _ in range(10):
        kept.append(bytes(150000))  # ALLOC:thread_b
        time.sleep(0.001)


def status(line):
    out = sys.stderr if os.environ.get("PY_ALLOC_STATUS") == "stderr" else sys.stdout
    print(line, file=out, flush=True)


def work():
    keep_small()
    keep_big()
    churn()
    recurse(100)
    threads = [threading.Thread(target=f) for f in (thread_a_keeps, thread_b_keeps)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def arena_counts():
    """pymalloc's arenas allocated and reclaimed so far (sys._debugmallocstats
    writes them to the C stderr)."""
    with tempfile.TemporaryFile() as out:
        saved = os.dup(2)
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode()
    found = [re.search(rf"# arenas {key}\s+=\s+(\d+)", text) for key in ("allocated total", "reclaimed")]
    if not all(found):
        return None  # no pymalloc (a free-threaded build's mimalloc, PYTHONMALLOC=malloc)
    return int(found[0].group(1)), int(found[1].group(1))


def main():
    if sys.argv[1] == "--tracemalloc":
        import tracemalloc
        tracemalloc.start()
        work()
        snapshot = tracemalloc.take_snapshot()
        lines = {}
        for stat in snapshot.statistics("lineno"):
            frame = stat.traceback[0]
            if frame.filename == __file__:
                lines[frame.lineno] = stat.size
        print(json.dumps(lines), flush=True)
        return
    if sys.argv[1] == "--wait":
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
        status("waiting")
        signal.sigwait([signal.SIGUSR1])
    else:
        time.sleep(float(sys.argv[2]))
    before = arena_counts() if sys.argv[1] == "--wait" else None
    work()
    after = arena_counts() if before else None
    if after:
        status(f"arenas allocated {after[0] - before[0]} reclaimed {after[1] - before[1]}")
    status("ready")
    if sys.argv[1] == "--wait":
        # Blocks made under one allocator are freed after it changed.
        signal.sigwait([signal.SIGUSR1])
        kept.clear()
        work()
        kept.clear()
        status("again")
    while True:
        time.sleep(1)


main()
