"""Grows an in-memory SQLite table: SQLite allocates with the GIL released,
so its stacks are native only, through the interpreter's own C frames.

    py_sqlite.py   prints "ready", then inserts a 3000-byte row every 10 ms"""
import sqlite3
import time

db = sqlite3.connect(":memory:")
db.execute("create table t (k integer primary key, v blob)")
print("ready", flush=True)
i = 0
while True:
    db.execute("insert into t values (?, ?)", (i, b"x" * 3000))
    i += 1
    time.sleep(0.01)
