"""Allocation loop at a known Python stack depth, for bench/python_cost.sh:
    py_deep.py DEPTH   calls down a chain of distinct functions (real stacks
                       have few repeated frames) to DEPTH Python frames, then
                       makes and drops small lists forever, printing the lists
                       made per second each second."""
import sys
import time


def loop():
    made, start = 0, time.monotonic()
    while True:
        for i in range(10000):
            x = [i] * 8  # the list object and its items: two allocations
            del x
        made += 10000
        now = time.monotonic()
        if now - start >= 1:
            print(round(made / (now - start)), flush=True)
            made, start = 0, now


depth = int(sys.argv[1])
chain = {"f0": loop}
for n in range(1, depth - 1):  # with <module> and loop: DEPTH frames
    exec(f"def f{n}():\n    f{n - 1}()\n", chain)
chain[f"f{depth - 2}"]()
