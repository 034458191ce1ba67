"""A Python program that is done in about a second, before a 5-second
interval ends: keeps 20 blocks of 200,000 bytes, later 5 more from another
line right before it exits, without tearing the interpreter down (which would
free them)."""
import os
import time

kept = []


def keep_big(n):
    for _ in range(n):
        kept.append(bytes(200000))  # ALLOC:py_brief_big


keep_big(20)  # ALLOC:py_brief_first
time.sleep(1)
keep_big(5)  # ALLOC:py_brief_last (a stack first seen as the script ends)
os._exit(0)
