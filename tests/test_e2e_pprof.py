"""--pprof: the heap profile as real readers see it.  `go tool pprof` (-top,
-traces, -raw) and `protoc --decode` with pprof's own profile.proto read the
file; their stacks and figures must be the JSON line's of the same snapshot,
and the target's own counts."""
import collections
import gzip
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import TARGET_SOURCES, alloc_line, leaktop, spawn_python_to_exit, target
from test_e2e_exact import EXPECTED

PROTO = Path("/usr/share/gocode/src/github.com/google/pprof/proto/profile.proto")
SEPARATOR = "-----------+-------------------------------------------------------"
SAMPLE_TYPES = [("inuse_space", "bytes"), ("inuse_objects", "count"),
                ("growth_space", "bytes_per_second")]
SCRIPT = str(TARGET_SOURCES / "py_alloc.py")


def go_pprof(tmp_path, profile, *args):
    """go tool pprof's text output.  Go wants a HOME and a build cache, which
    CI's root has not: both in the test's own directory."""
    home = tmp_path / "go-home"
    env = dict(os.environ, HOME=str(home), GOCACHE=str(home / "cache"), GOPATH=str(home / "go"),
               PPROF_TMPDIR=str(home / "pprof"))
    out = subprocess.run(["go", "tool", "pprof", *args, str(profile)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def traces(text):
    """-traces: {stack_id: (value, [frame names, innermost first])}."""
    samples = {}
    for block in text.split(SEPARATOR)[1:]:
        if not block.strip():
            continue  # after the last one
        stack_id, value, frames = None, None, []
        for line in block.splitlines():
            label = re.fullmatch(r"\s*stack_id:\s+([0-9a-f]{16})", line)
            if label:
                stack_id = label.group(1)
            elif line.strip():
                if line[:10].strip():
                    value = int(line[:10].strip().removesuffix("B"))
                frames.append(line[13:])
        assert stack_id and stack_id not in samples, block
        samples[stack_id] = (value, frames)
    return samples


def decode(profile):
    """protoc --decode's text format of the (gunzipped) profile."""
    data = gzip.decompress(Path(profile).read_bytes())
    out = subprocess.run(["protoc", f"-I{PROTO.parent}", "--decode", "perftools.profiles.Profile",
                          PROTO.name], input=data, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode()


def messages(text, name):
    """The top-level `name { ... }` messages of protoc's text format, as
    {field: value} (repeated fields: the last; nested messages left out)."""
    found = []
    for body in re.findall(rf"^{name} {{\n(.*?)^}}", text, re.M | re.S):
        found.append({k: v.strip('"') for k, v in re.findall(r"^  (\w+): (.*)$", body, re.M)})
    return found


def string_table(text):
    return [bytes(s, "latin-1").decode("unicode_escape").encode("latin-1").decode()
            for s in re.findall(r'^string_table: "(.*)"$', text, re.M)]


def gnu_build_id(path):
    """readelf's reading of the file's .note.gnu.build-id."""
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


def check_same_as_json(tmp_path, profile, report):
    """Every stack of the JSON line holding bytes is one pprof sample (by its
    stack_id label) with the same bytes, allocations, growth and frames."""
    stacks = {s["id"]: s for s in report["stacks"]}
    space = traces(go_pprof(tmp_path, profile, "-traces", "-unit=bytes", "-sample_index=inuse_space"))
    objects = traces(go_pprof(tmp_path, profile, "-traces", "-sample_index=inuse_objects"))
    growth = traces(go_pprof(tmp_path, profile, "-traces", "-sample_index=growth_space"))
    assert {i for i, (v, _) in space.items() if v} == {i for i, s in stacks.items() if s["outstanding_bytes"]}
    for stack_id, stack in stacks.items():
        if stack["outstanding_bytes"]:
            value, frames = space[stack_id]
            assert value == stack["outstanding_bytes"], stack_id
            names = [f["function"] for f in stack["frames"]]
            assert len(frames) == len(names), (frames, names)
            assert all(n is None or f == n for f, n in zip(frames, names)), (frames, names)
        if stack["outstanding_allocs"]:
            assert objects[stack_id][0] == stack["outstanding_allocs"], stack_id
        if round(stack["growth_bytes_per_s"]):
            assert growth[stack_id][0] == round(stack["growth_bytes_per_s"]), stack_id
    return space


def check_top(tmp_path, profile, report):
    """-top: the total, and each allocator's flat bytes (the innermost frame)."""
    top = go_pprof(tmp_path, profile, "-top", "-nodecount=1000", "-unit=bytes")
    total = re.search(r"Showing nodes accounting for (\d+)B, [\d.]+% of (\d+)B total", top)
    assert total, top
    assert int(total.group(2)) == sum(s["outstanding_bytes"] for s in report["stacks"])
    flat = collections.Counter()
    for stack in report["stacks"]:
        flat[stack["frames"][0]["function"]] += stack["outstanding_bytes"]
    rows = {}
    for line in top.splitlines():
        row = re.fullmatch(r"\s*(\d+)B\s+\S+%\s+\S+%\s+(\d+)B\s+\S+%\s+(.*)", line)
        if row:
            rows[row.group(3)] = int(row.group(1))
    for function, size in flat.items():
        if size:
            assert rows[function] == size, (function, rows)


def exact_run(procs, tmp_path):
    """leaktop -c 5 on the exact target: the last JSON line and the profile
    written at exit are the same snapshot."""
    profile = tmp_path / "exact.pb.gz"
    lt = procs(leaktop("--json", "-i", "0.3", "-c", "5", "-n", "1000", "--pprof", profile,
                       "--", target("exact")))
    reports = lt.all_json(30)
    assert lt.wait(5) == 0
    return profile, reports[-1]


def test_pprof_at_exit_reads_as_the_json_and_the_target_count(procs, tmp_path):
    profile, report = exact_run(procs, tmp_path)
    space = check_same_as_json(tmp_path, profile, report)
    check_top(tmp_path, profile, report)
    # The target's own figures, as pprof shows them (a call site's bytes may
    # be split with a cut-short copy of its stack, which has the same caller).
    objects = traces(go_pprof(tmp_path, profile, "-traces", "-sample_index=inuse_objects"))
    for caller, (allocator, size, count) in EXPECTED.items():
        ids = [i for i, (_, frames) in space.items() if frames[1:2] == [caller]]
        assert sum(space[i][0] or 0 for i in ids) == size, caller
        assert sum(objects[i][0] or 0 for i in ids if i in objects) == count, caller
    # file:line of native frames.
    lines = traces(go_pprof(tmp_path, profile, "-traces", "-lines", "-unit=bytes"))
    keep = [frames for _, frames in lines.values() if frames[1].startswith("keep_blocks ")]
    assert keep and all(frames[1].endswith(f"exact.c:{alloc_line('exact.c', 'keep_blocks')}")
                        for frames in keep), keep


def test_pprof_file_is_a_heap_profile_protoc_parses(procs, tmp_path):
    profile, report = exact_run(procs, tmp_path)
    assert profile.read_bytes()[:2] == b"\x1f\x8b"  # gzip
    text = decode(profile)
    strings = string_table(text)
    assert strings[0] == ""
    types = [(strings[int(t["type"])], strings[int(t["unit"])]) for t in messages(text, "sample_type")]
    assert types == SAMPLE_TYPES
    assert strings[int(re.search(r"^default_sample_type: (\d+)$", text, re.M).group(1))] == "inuse_space"
    # One sample per stack of the model (the JSON line lists them all: -n 1000).
    assert len(re.findall(r"^sample {$", text, re.M)) == len(report["stacks"])
    # Mappings: the program first (pprof's main binary), each object with the
    # build id readelf reads from it.
    mappings = messages(text, "mapping")
    exe = target("exact")
    objects = {f["object"] for s in report["stacks"] for f in s["frames"] if f["object"]}
    assert {strings[int(m["filename"])] for m in mappings} == objects
    assert strings[int(mappings[0]["filename"])] == exe
    for m in mappings:
        assert strings[int(m["build_id"])] == gnu_build_id(strings[int(m["filename"])])
    # pprof itself names the sample types so.
    raw = go_pprof(tmp_path, profile, "-raw")
    assert "\ninuse_space/bytes[dflt] inuse_objects/count growth_space/bytes_per_second\n" in raw
    assert re.search(rf"^File: {re.escape(Path(exe).name)}$", go_pprof(tmp_path, profile, "-top"), re.M)


def test_pprof_on_sigusr1_is_the_snapshot_of_its_interval(procs, tmp_path):
    """Attached to a growing target: SIGUSR1 writes the profile of the
    interval's snapshot, the one its JSON line shows (growth included)."""
    profile = tmp_path / "usr1.pb.gz"
    tgt = procs([target("leak_rate"), "--wait"])
    tgt.wait_line("waiting", 10)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.5", "-n", "1000", "--pprof", profile))
    lt.json_lines(1, 20)
    os.kill(tgt.pid, signal.SIGUSR1)
    tgt.wait_line("ready", 15)
    lt.json_lines(4, 15)
    assert not profile.exists()  # only at exit and on SIGUSR1
    os.kill(lt.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not profile.exists():
        assert time.monotonic() < deadline, f"no profile after SIGUSR1: {lt.stderr()}"
        time.sleep(0.05)
    reports = lt.json_lines(4, 15)
    assert not list(tmp_path.glob(".leaktop-*"))  # written through a temporary file, renamed
    # An interval writes the files, then prints its line: the first line
    # from after the profile's time is of the same snapshot.
    taken = int(re.search(r"^time_nanos: (\d+)$", decode(profile), re.M).group(1)) / 1e9
    report = next(r for r in reports if r["time"] >= taken)
    space = check_same_as_json(tmp_path, profile, report)
    # The target's figures: one 10 MiB block, and the growing stack.
    big = [v for v, frames in space.values() if frames[1:2] == ["big_static"]]
    assert sum(big) == 10 << 20
    growth = traces(go_pprof(tmp_path, profile, "-traces", "-sample_index=growth_space"))
    leak = [v for v, frames in growth.values() if frames[1:2] == ["leak_slowly"]]
    assert leak and max(leak) > 0
    assert all(v % 10240 == 0 for v, frames in space.values() if frames[1:2] == ["leak_slowly"])


def test_pprof_python_frames_show_file_and_line(procs, tmp_path):
    """A Python target: its frames are functions with their .py file and line,
    in the [python] mapping; figures as in the JSON and the script's own."""
    profile = tmp_path / "py.pb.gz"
    lt, report = spawn_python_to_exit(procs, "/usr/bin/python3.11", SCRIPT, "--pprof", profile)
    check_same_as_json(tmp_path, profile, report)
    big_line = alloc_line("py_alloc.py", "big")
    lines = traces(go_pprof(tmp_path, profile, "-traces", "-lines", "-unit=bytes"))
    big = [(v, frames) for v, frames in lines.values()
           if any(f.endswith(f"py_alloc.py:{big_line}") for f in frames)]
    assert big, "no stack through the big allocation's line"
    assert any(f == f"keep_big {SCRIPT}:{big_line}" for _, frames in big for f in frames), big
    # bytes(200000) asks for 200033 bytes, 20 of them kept.
    at_line = [v for v, frames in big if next(f for f in frames if ".py:" in f).endswith(f":{big_line}")]
    assert sum(at_line) == 20 * 200033
    # The Python frames' locations are in the [python] mapping, native ones not.
    kinds = collections.defaultdict(set)
    for stack in report["stacks"]:
        for f in stack["frames"]:
            if f["function"]:
                kinds[f["kind"]].add((f["function"], f["file"] or "", f["line"] or 0))
    text = decode(profile)
    strings = string_table(text)
    mapping_names = {m["id"]: strings[int(m["filename"])] for m in messages(text, "mapping")}
    functions = {f["id"]: (strings[int(f["name"])], strings[int(f.get("filename", 0))])
                 for f in messages(text, "function")}
    seen = collections.Counter()
    for body in re.findall(r"^location {\n(.*?)^}", text, re.M | re.S):
        mapping = re.search(r"^  mapping_id: (\d+)$", body, re.M)
        function = re.search(r"^    function_id: (\d+)$", body, re.M)
        line = re.search(r"^    line: (\d+)$", body, re.M)
        if not function:
            continue
        key = (*functions[function.group(1)], int(line.group(1)) if line else 0)
        kind = "python" if mapping and mapping_names[mapping.group(1)] == "[python]" else "native"
        assert key in kinds[kind], (kind, key)
        seen[kind] += 1
    assert seen["python"] and seen["native"], seen
