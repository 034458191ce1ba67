"""Known allocations from a chain of coroutines, for leaktop's tests.

    py_async.py  prints "waiting", waits for SIGUSR1, runs an asyncio program
                 (leaf awaited by middle awaited by top, ten times; then five
                 middle/leaf pairs as tasks of their own), prints "ready" and
                 sleeps.  Each leaf keeps one bytes object, resumed by the
                 event loop first (an await before it)."""
import asyncio
import signal
import time

kept = [None] * 100
slots = iter(range(100))


async def leaf(n):
    await asyncio.sleep(0)
    kept[next(slots)] = bytes(n)  # ALLOC:leaf


async def middle(n):
    await leaf(n)  # ALLOC:middle (the await)


async def top():
    for _ in range(10):
        await middle(123457)  # ALLOC:top (the await)
    await asyncio.gather(*(middle(65537) for _ in range(5)))


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
    print("waiting", flush=True)
    signal.sigwait([signal.SIGUSR1])
    asyncio.run(top())
    print("ready", flush=True)
    while True:
        time.sleep(1)


main()
