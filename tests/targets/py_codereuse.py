"""Code objects at reused addresses, for leaktop's tests.

    py_codereuse.py N [--step]
        prints "waiting", waits for SIGUSR1, then makes N functions with
        exec(), one after the other, each with its own name, first line and
        size; calls each once (it keeps one bytes object of its size) and
        drops it before making the next, so that the allocator gives the next
        code object the address of the last one.  Prints one JSON line per
        function: its name, file, allocation line, bytes kept
        (sys.getsizeof) and code object id().  With --step, waits for SIGUSR1
        after each line before dropping the function (a reader can look at
        it while it lives).  Then sleeps.
"""
import gc
import json
import signal
import sys
import time

FILE = "<generated>"
kept = []


def make_and_call(i, step):
    first_line = 1 + 3 * i
    name = f"gen_{i}"
    size = (i + 1) * 40000
    # A store into a list made beforehand: the bytes object is all it allocates.
    source = "\n" * (first_line - 1) + f"def {name}():\n    kept[{i}] = bytes({size})\n"
    namespace = {"kept": kept}
    exec(compile(source, FILE, "exec"), namespace)
    function = namespace.pop(name)
    function()
    print(json.dumps({"name": name, "file": FILE, "line": first_line + 1,
                      "bytes": sys.getsizeof(kept[i]), "code_id": id(function.__code__)}),
          flush=True)
    if step:
        signal.sigwait([signal.SIGUSR1])
    # Dropped now: the next function's code object may take its address.
    del function, namespace
    gc.collect()


def main():
    count = int(sys.argv[1])
    step = "--step" in sys.argv
    kept.extend([None] * count)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    print("waiting", flush=True)
    signal.sigwait([signal.SIGUSR1])
    for i in range(count):
        make_and_call(i, step)
    while True:
        time.sleep(1)


main()
