"""Whole native stacks through code without frame pointers (Debian's redis and
python3.11, a dlopen'd library), unwound in the kernel with the CFI; checked
frame by frame against gdb's backtrace (gdb's own CFI unwinder) of the same
code path."""
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from conftest import (TARGET_SOURCES, TARGETS, alloc_line, attach_after_ready, caller_name, fdinfo, leaktop,
                      target)
from test_e2e_allocators import redis  # noqa: F401  (fixture)

DEBIAN_PYTHON = "/usr/bin/python3.11"


def gdb_backtrace(pid, breakpoint, poke=None, timeout=90):
    """Function names (None where gdb says ??) of the first stop at `breakpoint`
    in pid, innermost first.  `poke` runs every 0.1 s meanwhile, to make the
    target get there."""
    gdb = subprocess.Popen(["gdb", "-p", str(pid), "-batch", "-nx", "-ex", "set pagination off",
                            "-ex", f"break {breakpoint}", "-ex", "continue", "-ex", "bt",
                            "-ex", "detach"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    done = threading.Event()

    def keep_poking():
        while poke and not done.wait(0.1):
            poke()

    threading.Thread(target=keep_poking, daemon=True).start()
    try:
        out, _ = gdb.communicate(timeout=timeout)
    finally:
        done.set()
        if gdb.poll() is None:
            gdb.kill()
    names = []
    for line in out.splitlines():
        m = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(\S+) \(", line)
        if m:
            names.append(None if m.group(1) == "??" else m.group(1))
    assert names, out
    return names


def names_of(frames):
    return [f["function"] for f in frames]


def test_redis_stack_from_set_command_to_the_allocator(procs, redis):  # noqa: F811
    server, port = redis
    lt = procs(leaktop("-p", server.pid, "--json", "-i", "0.5", "-n", "200"))
    lt.json_lines(1, 15)
    subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-c", "4", "-t", "set", "-n", "5000",
                    "-r", "100000000", "-d", "100"], capture_output=True, timeout=120, check=True)
    report = lt.fresh_json(2, 10)
    # A new key's dict entry: zmalloc <- dictAddRaw <- dbAdd <- setKey <- ... setCommand.
    stacks = [s for s in report["stacks"]
              if names_of(s["frames"])[:4] == ["malloc", "zmalloc", "dictAddRaw", "dbAdd"]]
    assert stacks, [names_of(s["frames"])[:6] for s in report["stacks"][:10]]
    ours = names_of(stacks[0]["frames"])
    assert "setCommand" in ours and ours.index("setCommand") > ours.index("dbAdd"), ours
    assert stacks[0]["frames"][0]["object"].endswith("libjemalloc.so.2")

    counter = iter(range(10**9))
    poke = lambda: subprocess.run(["redis-cli", "-p", str(port), "set", f"gdb-{next(counter)}", "v"],
                                  capture_output=True, timeout=30)
    theirs = gdb_backtrace(server.pid, "dbAdd", poke)
    assert theirs[-1] == "main", theirs
    # Every frame from dbAdd up to main, named or not, is gdb's.
    assert ours[3:3 + len(theirs)] == theirs, (ours, theirs)
    # Past main: libc's start code, down to _start.
    assert ours[3 + len(theirs)] == "__libc_start_call_main" and ours[-1] == "_start", ours
    for frame in stacks[0]["frames"]:
        assert frame["object"] is not None


def test_debian_python_native_frames(procs):
    tgt = procs([DEBIAN_PYTHON, TARGET_SOURCES / "py_sqlite.py"])
    tgt.wait_line("ready", 15)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "50"))
    lt.json_lines(1, 15)
    report = lt.fresh_json(3, 15)
    # SQLite allocates with the GIL released: the stack is all native, through
    # _sqlite3's and the LTO interpreter's frames (stripped: partly unnamed).
    stacks = [s for s in report["stacks"] if "sqlite3_step" in names_of(s["frames"])]
    assert stacks, [names_of(s["frames"]) for s in report["stacks"][:5]]
    stack = max(stacks, key=lambda s: s["outstanding_bytes"])
    ours = names_of(stack["frames"])
    objects = [f["object"] for f in stack["frames"]]
    assert DEBIAN_PYTHON in objects and "_PyEval_EvalFrameDefault" in ours and "Py_BytesMain" in ours

    theirs = gdb_backtrace(tgt.pid, "sqlite3_step")
    end = theirs.index("__libc_start_call_main")
    start = ours.index("sqlite3_step")
    assert ours[start:start + end + 1] == theirs[:end + 1], (ours, theirs)
    assert ours[-1] == "_start", ours
    for frame in stack["frames"]:
        assert frame["object"] is not None


def test_dlopened_library_without_frame_pointers(procs):
    # libleaky.so is built with -fomit-frame-pointer and leaves garbage in rbp:
    # only its CFI, indexed once leaktop sees it mapped, gets past it.
    report, _, _ = attach_after_ready(procs, "dlopen")
    plugin = [s for s in report["stacks"]
              if len(s["frames"]) > 1 and s["frames"][1]["function"] == "plugin_cache_entry"]
    assert sum(s["outstanding_bytes"] for s in plugin) == 16 * 2222
    whole = [s for s in plugin if names_of(s["frames"])[:4] ==
             ["malloc", "plugin_cache_entry", "use_plugin", "main"]]
    # The second load's blocks at least (the first ones may come before the
    # library is indexed: their stacks stop at the library).
    assert whole and sum(s["outstanding_bytes"] for s in whole) >= 8 * 2222, \
        [names_of(s["frames"]) for s in plugin]
    frames = whole[0]["frames"]
    assert frames[1]["line"] == alloc_line("libleaky.c", "plugin_cache_entry")
    assert frames[2]["file"].endswith("dlopen.c") and names_of(frames)[-1] == "_start"


def test_library_loaded_in_place_of_another(procs):
    # dlswap unloads libswap_a.so and loads libswap_b.so in its place, then
    # allocates through B at once, before leaktop can read the maps again:
    # B's frames unwound with A's rows (bigger frames) would stop or go astray.
    tgt = procs([target("dlswap"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)

    def whole(report, prefix, *callers):
        chain = ["malloc", f"{prefix}_leaf", f"{prefix}_mid", f"{prefix}_outer", "allocate_through",
                 *callers, "main"]
        return [s for s in report["stacks"]
                if s["outstanding_bytes"] and names_of(s["frames"])[:len(chain)] == chain]

    # Phases 1 and 2 go on until leaktop has B's tables, then A's (in the
    # index): their stacks are whole.
    for prefix in ("b", "a"):
        tgt.wait_line(f"phase {prefix}", 15)
        deadline = time.monotonic() + 30
        while not whole(lt.json_lines(1, 15)[0], prefix, "churn_until_signal"):
            assert time.monotonic() < deadline, f"no whole stack through libswap_{prefix}.so"
        os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("same address", 15)  # else the case is not reproduced here
    tgt.wait_line("ready", 5)
    report = lt.fresh_json(2, 15)
    b_stacks = [s for s in report["stacks"] if caller_name(s) == "b_leaf" and s["outstanding_bytes"]]
    assert sum(s["outstanding_bytes"] for s in b_stacks) == 16 * 3333, \
        [names_of(s["frames"]) for s in b_stacks]
    assert sum(s["outstanding_bytes"] for s in whole(report, "b")) == 16 * 3333, \
        [names_of(s["frames"]) for s in b_stacks]
    for stack in b_stacks:
        assert names_of(stack["frames"])[-1] == "_start", names_of(stack["frames"])
        assert all(f["object"].endswith("libswap_b.so") for f in stack["frames"][1:4])
    for stack in report["stacks"]:  # A's names only on A's blocks
        names = [n or "" for n in names_of(stack["frames"])]
        assert not (any(n.startswith("a_") for n in names) and any(n.startswith("b_") for n in names)), names


def test_code_without_a_file_does_not_make_leaktop_reread_the_maps(procs, tmp_path):
    # jit calls malloc from a stub in anonymous executable memory every 5 ms.
    # No table can be built for such code: one read of the maps says so, and
    # leaktop must not read them again at every walk through it (it did, ~20
    # times a second, for the whole session).
    tgt = procs([target("jit"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 5)
    lt.json_lines(2, 15)  # the stub's code is known by now
    log = tmp_path / "strace.log"
    trace = procs(["strace", "-f", "-qq", "-e", "trace=openat", "-o", log, "-p", lt.pid])
    reports = len(lt.json_lines(8, 30))
    trace.kill()
    maps = [line for line in log.read_text().splitlines()
            if f"/proc/{tgt.pid}/maps" in line or '"maps"' in line]
    # Each interval reads them a few times (symbols, unwind index, Python).
    assert len(maps) <= 4 * reports + 4, (reports, len(maps))
    # The stub is malloc's caller: a frame of its own, by address, with no file.
    stubs = [s for s in lt.json_lines(1, 15)[0]["stacks"]
             if s["outstanding_bytes"] >= 4096 and len(s["frames"]) > 1
             and s["frames"][1]["object"] is None]
    assert stubs and stubs[0]["frames"][0]["function"] == "malloc", stubs[:1]
    assert stubs[0]["frames"][1]["function"] is None and stubs[0]["frames"][1]["line"] is None


def test_plugin_churn_keeps_stacks_whole(procs, tmp_path):
    # 30 distinct copies of a plugin built without frame pointers, loaded and
    # unloaded in turn, with the unwinder's object table cut to 8 (the
    # target's own objects take 3 or 4): unmapped objects must make room for
    # new ones, and the last plugin still gets whole stacks.
    copies = []
    for i in range(30):
        copy = tmp_path / f"libplugin_{i}.so"
        shutil.copy(TARGETS / "libleaky.so", copy)
        copies.append(copy)
    tgt = procs([target("plugins"), "--wait", *copies])
    tgt.wait_line("waiting", 10)
    env = dict(os.environ, LEAKTOP_UNWIND_LIMITS="8,1048576")
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"), env=env)
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("last", 60)
    chain = ["malloc", "plugin_cache_entry", "use_plugin", "main"]
    deadline = time.monotonic() + 20
    while True:
        report = lt.json_lines(1, 15)[0]
        last = [s for s in report["stacks"] if caller_name(s) == "plugin_cache_entry"
                and s["outstanding_bytes"] and s["frames"][1]["object"] == str(copies[-1])]
        whole = [s for s in last if names_of(s["frames"])[:len(chain)] == chain]
        if whole and names_of(whole[0]["frames"])[-1] == "_start":
            break
        assert time.monotonic() < deadline, ([names_of(s["frames"]) for s in last], lt.stderr())
    assert "full" not in lt.stderr()


def kernel_map_entries(pid, key_size, value_size):
    """How many entries the hash map of these sizes that process pid holds has."""
    ids = [info["map_id"] for info in fdinfo(pid) if info.get("map_type") == "1"
           and info.get("key_size") == str(key_size) and info.get("value_size") == str(value_size)]
    assert len(ids) == 1, ids
    out = subprocess.run(["bpftool", "-j", "map", "dump", "id", ids[0]], capture_output=True, text=True,
                         check=True).stdout
    return len(json.loads(out))


def test_stacks_of_old_program_images_are_dropped(procs):
    # regen makes 500 distinct stacks in each of 4 images (it exec's itself):
    # the native stacks of an image that is gone must leave the kernel's
    # stack_traces map, else a target that exec's fills it for good.
    tgt = procs([target("regen"), "0", "3", "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "1000"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)
    for gen in range(4):
        tgt.wait_line(f"generation {gen}", 30)
        deadline = time.monotonic() + 30
        while sum(s["outstanding_bytes"] for s in lt.json_lines(1, 15)[0]["stacks"]
                  if caller_name(s) == "leaf") != 500 * 64:
            assert time.monotonic() < deadline, f"generation {gen} not seen"
        if gen < 3:
            os.kill(tgt.pid, signal.SIGUSR1)
    # struct stack_trace: a hash and 127 addresses, by a 4-byte id.
    traces = kernel_map_entries(lt.pid, 4, 8 + 127 * 8)
    assert 500 <= traces < 2 * 500, traces


def test_plugin_file_rewritten_in_place(procs, tmp_path):
    # The same path and inode (and size) with other code after a dlclose:
    # libswap_a.so's rows must not be applied to libswap_b.so's code.
    plugin = tmp_path / "libplugin.so"
    shutil.copyfile(TARGETS / "libswap_a.so", plugin)
    tgt = procs([target("dlreplace"), plugin, "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5"))
    lt.json_lines(1, 15)
    os.kill(tgt.pid, signal.SIGUSR1)

    def stacks_through(report, prefix):
        return [names_of(s["frames"]) for s in report["stacks"]
                if caller_name(s) == f"{prefix}_leaf" and s["outstanding_bytes"]]

    def whole(names, prefix):
        chain = ["malloc", f"{prefix}_leaf", f"{prefix}_mid", f"{prefix}_outer", "allocate_through", "main"]
        return names[:len(chain)] == chain and names[-1] == "_start"

    for prefix in ("a", "b"):
        deadline = time.monotonic() + 30
        while not any(whole(names, prefix) for names in stacks_through(lt.json_lines(1, 15)[0], prefix)):
            assert time.monotonic() < deadline, (prefix, stacks_through(lt.json_lines(1, 15)[0], prefix))
        if prefix == "a":
            inode = plugin.stat().st_ino
            os.kill(tgt.pid, signal.SIGUSR1)
            tgt.wait_line("closed", 15)
            shutil.copyfile(TARGETS / "libswap_b.so", plugin)  # rewritten, not replaced
            assert plugin.stat().st_ino == inode
            os.kill(tgt.pid, signal.SIGUSR1)
            tgt.wait_line("reloaded", 15)
    chain = ["malloc", "b_leaf", "b_mid", "b_outer", "allocate_through", "main"]
    for names in stacks_through(lt.fresh_json(2, 15), "b"):  # cut short at worst, never wrong
        assert names[:len(chain)] == chain[:len(names)], names
