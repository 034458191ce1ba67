#!/usr/bin/env python3
"""Mutation check: builds deliberately broken leaktops, each one line changed,
and runs the fast part of the suite against each.  Every mutant must make at
least one test fail; a mutant that survives is behaviour no test checks.

    scripts/mutants.py [NAME...]      (make mutants)

Prints a table (mutant, the test that killed it) and exits 1 when one
survived, 2 when a mutation no longer applies (the code it breaks changed:
update MUTANTS)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")

# (name, file, exact text, replacement): the text must occur exactly once.
MUTANTS = [
    ("alloc_enter records nothing", "bpf/leaktop.bpf.c",
     "\tcount_hit();\n\tt = thread_state(true);\n",
     "\tcount_hit();\n\treturn 0;\n\tt = thread_state(true);\n"),
    ("allocations not recorded", "bpf/leaktop.bpf.c",
     "\t\t\t__sync_fetch_and_add(&s->bytes, (__s64)info->size);\n",
     "\t\t\t(void)info->size;\n"),
    ("frees not released", "bpf/leaktop.bpf.c",
     "__sync_fetch_and_add(&s->bytes, -(__s64)info->size);",
     "(void)s;"),
    ("allocation counts not released", "bpf/leaktop.bpf.c",
     "\told = __sync_fetch_and_add(&s->allocs_gen, -info->count);\n",
     "\told = __sync_fetch_and_add(&s->allocs_gen, 0);\n"),
    ("realloc's old block kept", "bpf/leaktop.bpf.c",
     "settle_old(&call, ptr || call.size == 0);",
     "settle_old(&call, false);"),
    ("caller read from the wrong slot", "bpf/leaktop.bpf.c",
     "\t\tbpf_probe_read_user(&call.key.caller, sizeof(call.key.caller), (void *)sp);\n",
     "\t\tbpf_probe_read_user(&call.key.caller, sizeof(call.key.caller), (void *)(sp + 8));\n"),
    ("nested allocator calls counted twice", "bpf/leaktop.bpf.c",
     "if (t->call.depth && t->call.epoch == duty_epoch && nested(",
     "if (0 && t->call.depth && t->call.epoch == duty_epoch && nested("),
    ("failed allocations counted", "bpf/leaktop.bpf.c",
     "\tif (!ptr || !call.sampled)\n",
     "\tif (!call.sampled)\n"),
    ("Python frames dropped", "bpf/leaktop.bpf.c",
     "call.key.py_stack = python_stack(tid);",
     "call.key.py_stack = 0; (void)tid;"),
    ("sampling weights not applied", "bpf/leaktop.bpf.c",
     "\tif (sample_bytes)\n\t\tsample_weight(",
     "\tif (0)\n\t\tsample_weight("),
    ("a throw's stale operator new taken for a running one", "bpf/leaktop.bpf.c",
     "\treturn ret_addr == call->key.caller;\n",
     "\treturn true;\n"),
    ("growth model returns 0", "user/model.c",
     "\te->growth = entry_growth(m, e);\n",
     "\te->growth = 0 * entry_growth(m, e);\n"),
    ("Prometheus stack bytes written as 0", "user/output_prom.c",
     "\tfprintf(out, \" %.17g\\n\", v);\n",
     "\tfprintf(out, \" %.17g\\n\", 0 * v);\n"),
    ("Prometheus total written as 0", "user/output_prom.c",
     "\tfprintf(out, \" %lld\\n\", (long long)r->bytes);\n",
     "\tfprintf(out, \" %lld\\n\", 0 * (long long)r->bytes);\n"),
    ("views print stale figures (the first reading's)", "user/main.c",
     "\tmodel_begin(s->model, t);\n\tslot_table_update(",
     "\tstatic int readings;\n\tif (readings++ > 0)\n\t\treturn;\n\tmodel_begin(s->model, t);\n\tslot_table_update("),
    ("ranking by growth reversed", "user/model.c",
     "kx = x->growth, ky = y->growth;",
     "kx = y->growth, ky = x->growth;"),
]

# The fast part of the suite, broadest first: -x stops at the first failure.
FAST_TESTS = [
    "tests/test_e2e_exact.py", "tests/test_e2e_targets.py", "tests/test_e2e_export.py",
    "tests/test_e2e_cpp_exceptions.py", "tests/test_e2e_sampling.py", "tests/test_e2e_python.py",
    "tests/test_e2e_allocators.py", "tests/test_e2e_duty_cycle.py", "tests/test_e2e_threads.py",
    "tests/test_unit.py",
]

# What a mutant's build needs from the main tree (objects are reused: only
# what the mutation touches is rebuilt).
COPIED = ["Makefile", "bpf", "user", "vmlinux", "scripts", "tests/unit"]


def build_mutant(workdir, name, path, old, new):
    for item in COPIED:
        src = ROOT / item
        dst = workdir / item
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copy2(src, dst)
    (workdir / "build").mkdir()
    for item in ["leaktop.bpf.o", "leaktop.skel.h", "user", ".deps-ok"]:
        src = ROOT / "build" / item
        if src.is_dir():
            shutil.copytree(src, workdir / "build" / item)
        elif src.exists():
            shutil.copy2(src, workdir / "build" / item)
    target = workdir / path
    text = target.read_text()
    if text.count(old) != 1:
        return f"does not apply ({text.count(old)} matches in {path})"
    target.write_text(text.replace(old, new))
    os.utime(target)  # newer than its object
    make = ["make", "-s", "-C", str(workdir), "leaktop"]
    if path.startswith("user/"):
        make.append("build/unit_tests")  # pure logic: its unit tests too
    result = subprocess.run(make, capture_output=True, text=True)
    if result.returncode != 0:
        return "does not build: " + (result.stderr.strip().splitlines() or ["?"])[-1]
    return None


def run_suite(workdir, path):
    """The first test that fails with the leaktop in workdir, or None."""
    env = dict(os.environ, LEAKTOP=str(workdir / "leaktop"),
               TARGETS_DIR=str(ROOT / "build" / "targets"),
               UNIT_TESTS=str(workdir / "build" / "unit_tests") if path.startswith("user/")
               else str(ROOT / "build" / "unit_tests"))
    tests = [t for t in FAST_TESTS if (ROOT / t).exists()]
    result = subprocess.run([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x",
                             "-rf", *tests], cwd=ROOT, env=env, capture_output=True, text=True)
    killed = re.findall(r"^FAILED (\S+)", result.stdout, re.M)
    if killed:
        return killed[0].split("::", 1)[-1][:60]
    if result.returncode not in (0, 1):  # errors, not failures
        errors = re.findall(r"^ERROR (\S+)", result.stdout, re.M)
        return f"error: {errors[0] if errors else result.returncode}"
    return None


def main():
    wanted = set(sys.argv[1:])
    # A kill only means something if the unbroken build passes the same tests.
    started = time.monotonic()
    failing = run_suite(ROOT, "")
    if failing:
        print(f"the unmutated build fails {failing}: fix that first", flush=True)
        return 2
    print(f"unmutated build: passes ({time.monotonic() - started:.0f} s)", flush=True)
    survivors = stale = 0
    rows = []
    for name, path, old, new in MUTANTS:
        if wanted and name not in wanted:
            continue
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="leaktop-mutant-") as tmp:
            problem = build_mutant(Path(tmp), name, path, old, new)
            if problem:
                stale += 1
                rows.append((name, "NOT RUN: " + problem))
            else:
                killer = run_suite(Path(tmp), path)
                if killer is None:
                    survivors += 1
                rows.append((name, killer or "SURVIVED"))
        print(f"{name}: {rows[-1][1]} ({time.monotonic() - started:.0f} s)", flush=True)
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"\n| {'mutant':<{width}} | killed by |\n|{'-' * (width + 2)}|-----------|")
    for name, killer in rows:
        print(f"| {name:<{width}} | {killer} |")
    print(f"\n{len(rows) - survivors - stale} killed, {survivors} survived, {stale} not run")
    return 1 if survivors else 2 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
