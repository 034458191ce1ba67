#!/usr/bin/env python3
"""Mutation check: builds deliberately broken leaktops, each a small edit that
breaks one behaviour, and runs against each the tests aimed at that
behaviour.  Every mutant must make one of them fail; a mutant that survives
is behaviour no test checks.

    scripts/mutants.py [NAME...]      (make mutants)

Prints a table (mutant, the test that killed it) and exits 1 when one
survived (but for those MUTANTS says no test can kill, with the reason), 2 when a mutation no longer applies (the code it breaks changed:
update MUTANTS; checked for every mutant before anything runs)."""
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

# Test files (or node ids) named in MUTANTS.
EXACT = "tests/test_e2e_exact.py::test_exact_spawn"
PROCESSES = "tests/test_e2e_processes.py::"
SLOTS = "tests/test_e2e_slots.py::"
EVICTED_FREES = ("tests/test_e2e_slot_eviction.py::"
                 "test_an_evicted_stack_s_frees_take_nothing_off_its_slot_s_next_stack")


class Mutant:
    """A deliberately broken leaktop: `name` says the behaviour it breaks;
    each (old, new) edit of `path` replaces text that must occur exactly
    once; `tests` (files or node ids) are those expected to catch it, run
    alone against it (the first that fails kills it).  `survives` says why
    a mutant no test can kill is one (it is run and shown all the same)."""

    def __init__(self, name, path, edits, tests, survives=None):
        self.name, self.path, self.edits, self.tests = name, path, edits, tests
        self.survives = survives


MUTANTS = [
    # Recording and releasing (bpf/leaktop.bpf.c).
    Mutant("alloc_enter records nothing", "bpf/leaktop.bpf.c",
           [("\tcount_hit();\n\tt = thread_state(true);\n",
             "\tcount_hit();\n\treturn 0;\n\tt = thread_state(true);\n")], [EXACT]),
    Mutant("allocations not recorded (no bytes added)", "bpf/leaktop.bpf.c",
           [("\t\t\t__sync_fetch_and_add(&s->bytes, (__s64)bytes);\n", "\t\t\t(void)bytes;\n")],
           [EXACT]),
    Mutant("frees not released (no bytes taken off)", "bpf/leaktop.bpf.c",
           [("\t__sync_fetch_and_add(&s->bytes, -(__s64)bytes);\n", "\t(void)bytes;\n")], [EXACT]),
    Mutant("allocation counts not released", "bpf/leaktop.bpf.c",
           [("old = __sync_fetch_and_add(&s->allocs_gen, -count);",
             "old = __sync_fetch_and_add(&s->allocs_gen, 0);")], [EXACT]),
    Mutant("the kernel trusted to filter out a vfork child everywhere", "user/probes.c",
           [("\tp->multi = uprobe_multi_supported();\n",
             "\tp->multi = uprobe_multi_supported();\n\tp->skel->rodata->kernel_filters_tgid = true;\n")],
           ["tests/test_e2e_exact.py::test_vfork_child_is_not_the_target"]),
    Mutant("realloc's old block kept", "bpf/leaktop.bpf.c",
           [("settle_old(&call, ptr || call.size == 0);", "settle_old(&call, false);")], [EXACT]),
    Mutant("caller read from the wrong stack slot", "bpf/leaktop.bpf.c",
           [("stack_word(&t->unwind, sp, sp, &call.key.caller);",
             "stack_word(&t->unwind, sp + 8, sp, &call.key.caller);")], [EXACT]),
    Mutant("an unsampled operator new's caller read from the wrong stack slot", "bpf/leaktop.bpf.c",
           [("\t\tbpf_probe_read_user(&call.key.caller, sizeof(call.key.caller), (void *)sp);\n",
             "\t\tbpf_probe_read_user(&call.key.caller, sizeof(call.key.caller), (void *)(sp + 8));\n")],
           ["tests/test_e2e_sampling.py::"
            "test_unsampled_operator_new_s_own_malloc_is_not_an_allocation_of_its_own"]),
    Mutant("nested allocator calls counted twice", "bpf/leaktop.bpf.c",
           [("if (t->call.depth && t->call.epoch == duty_epoch && nested(",
             "if (0 && t->call.depth && t->call.epoch == duty_epoch && nested(")], [EXACT]),
    Mutant("failed allocations counted", "bpf/leaktop.bpf.c",
           [("\tif (!ptr || !call.sampled)\n", "\tif (!call.sampled)\n")], [EXACT]),
    Mutant("sampling weights not applied", "bpf/leaktop.bpf.c",
           [("\tif (sample_bytes)\n\t\tsample_weight(", "\tif (0)\n\t\tsample_weight(")],
           ["tests/test_e2e_sampling.py::test_sampled_estimates_are_close_to_exact"]),
    Mutant("a throw's stale operator new taken for a running one", "bpf/leaktop.bpf.c",
           [("\treturn ret_addr == call->key.caller;\n", "\treturn true;\n")],
           ["tests/test_e2e_cpp_exceptions.py::test_throwing_new_attached"]),
    Mutant("lost events not counted", "bpf/leaktop.bpf.c",
           [("__u64 *n = bpf_map_lookup_elem(&lost, &reason);",
             "__u64 *n = ((void)reason, (__u64 *)0);")],
           [PROCESSES + "test_full_shared_map_is_counted_and_said_once"]),
    # Slots: recycled, reset, evicted (bpf/leaktop.bpf.c, user/slots.c).
    Mutant("slot generation not checked when counting", "bpf/leaktop.bpf.c",
           [("if (slot_gen(old) == (__u16)ref.gen) {", "if (1) {")],
           [SLOTS + "test_slots_recycled_under_racing_threads_keep_exact_figures"],
           survives="the check matters only when userspace gives the slot back between a "
                    "program's index lookup and its add, a few instructions apart: no test can "
                    "hold a BPF program there"),
    Mutant("record's slot generation not checked at its free", "bpf/leaktop.bpf.c",
           [("if ((slot_gen(old) ^ info->slot_gen) & ((1u << ALLOC_GEN_BITS) - 1)) {", "if (0) {")],
           [EVICTED_FREES]),
    Mutant("a recycled slot carries its old stack's figures", "user/slots.c",
           [("\t__atomic_store_n(&st->bytes, 0, __ATOMIC_SEQ_CST);\n\tunhold(", "\tunhold("),
            ("\t__atomic_store_n(&t->c->stats[slot].bytes, 0, __ATOMIC_SEQ_CST);\n\tpush(",
             "\tpush(")],
           [SLOTS + "test_slots_of_an_exec_d_image_come_back", EVICTED_FREES]),
    Mutant("no stack evicted when live stacks outnumber the slots", "user/slots.c",
           [("if (stacks_lost > t->stacks_lost && used >= t->nslots && !t->queued)",
             "if (0 && stacks_lost > t->stacks_lost && used >= t->nslots && !t->queued)")],
           ["tests/test_e2e_slot_eviction.py"]),
    # Many processes per session.
    Mutant("process index bits ignored in the allocations key", "bpf/leaktop.bpf.c",
           [("\treturn addr | process_key;\n", "\treturn addr;\n")],
           [PROCESSES + "test_prefork_workers_count_their_own_leak_not_the_parents_table"]),
    Mutant("a forked child shares its parent's records (pre-fork heap inherited)", "user/session.c",
           [("\t\t\tt->index = (uint16_t)i;\n", "\t\t\tt->index = 0;\n")],
           [PROCESSES + "test_prefork_workers_count_their_own_leak_not_the_parents_table"]),
    # Python.
    Mutant("Python frames dropped", "bpf/leaktop.bpf.c",
           [("call.key.py_stack = python_stack();", "call.key.py_stack = 0;")],
           ["tests/test_e2e_python.py::test_python_line_numbers_and_functions"]),
    Mutant("Python line table: one-line entries' delta off by one", "user/python_linetable.c",
           [("line += form - 10;", "line += form - 11;")],
           ["tests/test_unit.py", "tests/test_e2e_python.py::test_python_line_numbers_and_functions"]),
    Mutant("CPython 3.14 frame fields taken in the wrong order", "user/python_layouts.c",
           [("#define FRAME_314 \"interpreter_frame: size previous executable",
             "#define FRAME_314 \"interpreter_frame: size executable previous")],
           ["tests/test_unit.py"]),
    # Views and files.
    Mutant("growth model returns 0", "user/model.c",
           [("\te->growth = entry_growth(m, e);\n", "\te->growth = 0 * entry_growth(m, e);\n")],
           ["tests/test_e2e_targets.py::test_leak_ranks_first_with_its_rate"]),
    Mutant("ranking by growth reversed", "user/model.c",
           [("kx = x->growth, ky = y->growth;", "kx = y->growth, ky = x->growth;")],
           ["tests/test_e2e_targets.py::test_leak_ranks_first_with_its_rate"]),
    Mutant("views print stale figures (the first reading's)", "user/tracee.c",
           [("\tmodel_begin(s->model, t);\n\tslot_table_update(",
             "\tstatic int readings;\n\tif (readings++ > 0)\n\t\treturn;\n\tmodel_begin(s->model, t);\n\tslot_table_update(")],
           ["tests/test_e2e_exact.py::test_exact_attach"]),
    Mutant("Prometheus stack bytes written as 0", "user/output_prom.c",
           [("\tfprintf(out, \" %.17g\\n\", v);\n", "\tfprintf(out, \" %.17g\\n\", 0 * v);\n")],
           ["tests/test_e2e_export.py::test_promtool_accepts_the_file"]),
    Mutant("Prometheus total written as 0", "user/output_prom.c",
           [("\tfprintf(out, \" %lld\\n\", (long long)r->bytes);\n",
             "\tfprintf(out, \" %lld\\n\", 0 * (long long)r->bytes);\n")],
           ["tests/test_e2e_export.py::test_promtool_accepts_the_file"]),
    Mutant("Prometheus lost events series misnamed", "user/output_prom.c",
           [('fputs("leaktop_lost_events_total", out);', 'fputs("leaktop_lost_events", out);')],
           ["tests/test_e2e_export.py::test_promtool_accepts_the_file"]),
    Mutant("Prometheus per-process bytes written as allocations", "user/output_prom.c",
           [("fprintf(out, \" %lld\\n\", (long long)p->bytes);",
             "fprintf(out, \" %lld\\n\", (long long)p->allocs);")],
           [PROCESSES + "test_prometheus_per_process_totals"]),
    Mutant("pprof allocation counts written as bytes", "user/output_pprof.c",
           [("e->values[1] = s->allocs;", "e->values[1] = s->bytes;")],
           ["tests/test_e2e_pprof.py::test_pprof_at_exit_reads_as_the_json_and_the_target_count"]),
    Mutant("HTML icicle: a frame shows one stack's bytes, not its stacks' sum", "user/html/report.js",
           [("n.bytes += s.outstanding_bytes;", "n.bytes = s.outstanding_bytes;")],
           ["tests/test_e2e_html.py::test_html_matches_the_json_of_the_same_moment"]),
]

# What a mutant's build needs from the main tree (objects are reused: only
# what the mutation touches is rebuilt).
COPIED = ["Makefile", "bpf", "user", "vmlinux", "scripts", "tests/unit"]


def problem_with(m, text=None):
    """Why mutant m cannot be applied to today's code (None: it can)."""
    text = (ROOT / m.path).read_text() if text is None else text
    for old, _ in m.edits:
        if text.count(old) != 1:
            return f"does not apply: {text.count(old)} matches in {m.path} of {old.strip()[:60]!r}"
    return None


def build_mutant(workdir, m):
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
    target = workdir / m.path
    text = target.read_text()
    problem = problem_with(m, text)
    if problem:
        return problem
    for old, new in m.edits:
        text = text.replace(old, new)
    target.write_text(text)
    os.utime(target)  # newer than its object
    make = ["make", "-s", "-C", str(workdir), "leaktop"]
    if m.path.startswith("user/"):
        make.append("build/unit_tests")  # pure logic: its unit tests too
    result = subprocess.run(make, capture_output=True, text=True)
    if result.returncode != 0:
        return "does not build: " + (result.stderr.strip().splitlines() or ["?"])[-1]
    return None


def run_tests(workdir, tests, own_unit_tests):
    """The first of `tests` that fails with the leaktop in workdir, or None."""
    env = dict(os.environ, LEAKTOP=str(workdir / "leaktop"),
               TARGETS_DIR=str(ROOT / "build" / "targets"),
               UNIT_TESTS=str((workdir if own_unit_tests else ROOT) / "build" / "unit_tests"))
    result = subprocess.run([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-x",
                             "-rf", *tests], cwd=ROOT, env=env, capture_output=True, text=True)
    killed = re.findall(r"^FAILED (\S+)", result.stdout, re.M)
    if killed:
        return killed[0].split("::", 1)[-1][:100]
    if result.returncode not in (0, 1):  # errors, not failures
        errors = re.findall(r"^ERROR (\S+)", result.stdout, re.M)
        return f"error: {errors[0] if errors else result.returncode}"
    return None


def main():
    wanted = set(sys.argv[1:])
    chosen = [m for m in MUTANTS if not wanted or m.name in wanted]
    if wanted - {m.name for m in chosen}:
        print(f"no such mutant: {sorted(wanted - {m.name for m in chosen})}", flush=True)
        return 2
    # Stale mutants first, loudly: a pattern that no longer matches means the
    # code it breaks changed, and MUTANTS must follow it.
    stale = [(m.name, problem_with(m)) for m in chosen if problem_with(m)]
    for name, problem in stale:
        print(f"STALE MUTANT {name!r}: {problem}", flush=True)
    if stale:
        return 2
    # A kill only means something if the unbroken build passes the same tests.
    started = time.monotonic()
    every_test = list(dict.fromkeys(t for m in chosen for t in m.tests))
    failing = run_tests(ROOT, every_test, False)
    if failing:
        print(f"the unmutated build fails {failing}: fix that first", flush=True)
        return 2
    print(f"unmutated build: passes ({time.monotonic() - started:.0f} s)", flush=True)
    survivors = known = not_run = 0
    rows = []
    for m in chosen:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="leaktop-mutant-") as tmp:
            problem = build_mutant(Path(tmp), m)
            if problem:
                not_run += 1
                rows.append((m.name, "NOT RUN: " + problem))
            else:
                killer = run_tests(Path(tmp), m.tests, m.path.startswith("user/"))
                if killer is None and m.survives:
                    known += 1
                    killer = f"SURVIVED (known: {m.survives})"
                elif killer is None:
                    survivors += 1
                rows.append((m.name, killer or "SURVIVED"))
        print(f"{m.name}: {rows[-1][1]} ({time.monotonic() - started:.0f} s)", flush=True)
    width = max(len(r[0]) for r in rows) if rows else 10
    print(f"\n| {'mutant':<{width}} | killed by |\n|{'-' * (width + 2)}|-----------|")
    for name, killer in rows:
        print(f"| {name:<{width}} | {killer} |")
    print(f"\n{len(rows) - survivors - known - not_run} killed, {survivors} survived, "
          f"{known} known to survive, {not_run} not run")
    return 1 if survivors else 2 if not_run else 0


if __name__ == "__main__":
    sys.exit(main())
