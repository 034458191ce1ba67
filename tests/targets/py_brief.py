"""A Python program that is done in about a second, before a 5-second
interval ends: keeps 20 blocks of 200,000 bytes, then exits."""
import time

kept = []


def keep_big():
    for _ in range(20):
        kept.append(bytes(200000))  # ALLOC:py_brief_big


keep_big()
time.sleep(1)
