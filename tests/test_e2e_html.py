"""--html PATH: a self-contained report, loaded by a real browser (headless
chromium, network off).  What it draws must be the figures of the JSON line of
the same moment (-c N, or a stop signal: the last line and the file at exit are
one snapshot) and the targets' own counts."""
import json
import os
import re
import signal
import time

import pytest

from conftest import TARGET_SOURCES, alloc_line, leaktop, spawn_python_to_exit, target
from html_page import CHROMIUM, Page, chromium, expected_tree, frame_key, icicle_paths
from test_e2e_exact import EXPECTED

pytestmark = pytest.mark.skipif(not CHROMIUM, reason="chromium not installed (scripts/install-deps.sh)")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def load(html, tmp_path):
    """The page as chromium built it, after checking it loaded cleanly and
    offline, and that a screenshot of it can be taken."""
    text = html.read_text()
    # Nothing to fetch: the only URL is the SVG namespace, which names, not loads.
    assert set(re.findall(r"[a-z]+://[^\s\"'<>)]*", text)) <= {"http://www.w3.org/2000/svg"}
    dom, console = chromium(html, tmp_path, "--dump-dom")
    assert console == []  # no error, no warning, no blocked request
    page = Page(dom)
    assert page.status == "ok"
    shot = tmp_path / "shot.png"
    _, console = chromium(html, tmp_path, f"--screenshot={shot}")
    assert console == []
    png = shot.read_bytes()
    assert png[:8] == PNG_SIGNATURE
    assert (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")) == (1280, 1600)
    return page


def check_icicle(page, report):
    """Every frame drawn has the bytes and allocations of the stacks through it;
    every frame wide enough to draw (1 px) is drawn."""
    expected = expected_tree(report, page)
    drawn = icicle_paths(page)
    total = expected[()][0]
    assert int(drawn[()]["data-bytes"]) == total == report["outstanding_bytes"]
    for path, node in drawn.items():
        assert path in expected, path
        assert [int(node["data-bytes"]), int(node["data-allocs"])] == expected[path], path
        if path:
            frame = page.data["frames"][int(node["data-frame"])]
            assert node["data-kind"] == frame["kind"]
            text = (node["text"] or "").removesuffix("\u2026")
            assert frame["label"].startswith(text), (frame["label"], text)
    for path, (size, _) in expected.items():
        if size / total * page.icicle_width >= 1.01:  # so are its ancestors
            assert path in drawn, f"{path[-1]} ({size} B) is wide enough but not drawn"
    return drawn


def check_chart_and_table(page, reports):
    """The chart has one point per interval, each the total of that interval's
    line; the table is the last line's stacks, in its order, with its figures,
    and each trend is that stack's bytes in the latest lines, oldest first."""
    last = reports[-1]
    assert [b for _, b in page.points] == [r["outstanding_bytes"] for r in reports]
    elapsed = [t for t, _ in page.points]
    assert elapsed == sorted(elapsed)
    assert page.data["history"]["intervals_per_point"] == 1
    assert page.cards["outstanding"] == last["outstanding_bytes"]
    assert page.cards["allocations outstanding"] == last["outstanding_allocs"]
    assert [(r["data-id"], int(r["data-bytes"]), int(r["data-allocs"]), float(r["data-growth"]))
            for r in page.rows] == \
        [(s["id"], s["outstanding_bytes"], s["outstanding_allocs"], s["growth_bytes_per_s"])
         for s in last["stacks"]]
    for row in page.rows:
        trend = row["trend"]
        assert 1 <= len(trend) <= len(reports)
        history = [next((s["outstanding_bytes"] for s in r["stacks"] if s["id"] == row["data-id"]), 0)
                   for r in reports[-len(trend):]]
        assert trend == history, row["data-id"]


def named(key, function):
    return key[1] == function or key[1].startswith(function + " (")


def topmost(drawn, function):
    """The drawn frames of `function` with none of it above them (recursion
    and cut-short stacks: every byte through it counted once)."""
    found = [(p, n) for p, n in drawn.items() if p and named(p[-1], function)]
    return [(p, n) for p, n in found if not any(named(k, function) for k in p[:-1])]


def test_html_matches_the_json_of_the_same_moment(procs, tmp_path):
    html = tmp_path / "report.html"
    lt = procs(leaktop("--json", "-i", "0.3", "-c", "8", "-n", "1000", "--html", html,
                       "--", target("exact")))
    reports = lt.all_json(60)
    assert lt.wait(5) == 0
    last = reports[-1]
    page = load(html, tmp_path)

    check_chart_and_table(page, reports)
    # The icicle: the frames of the line's stacks, merged from the outermost.
    json_frames = {frame_key(f) for s in last["stacks"] for f in s["frames"]}
    assert {frame_key(f) for f in page.data["frames"]} == json_frames
    drawn = check_icicle(page, last)
    # exact.c's own counts, under the function that made them.
    for caller, (_, size, count) in EXPECTED.items():
        found = topmost(drawn, caller)
        assert found, caller
        assert sum(int(n["data-bytes"]) for _, n in found) == size, caller
        assert sum(int(n["data-allocs"]) for _, n in found) == count, caller
        for path, node in found:
            assert path[-1][1] == f"{caller} (exact.c:{alloc_line('exact.c', caller)})"
            assert node["data-kind"] == "native"


def hue(fill):
    m = re.fullmatch(r"hsl\((\d+), (\d+)%, (\d+)%\)", fill)
    assert m, fill
    return int(m.group(1)), int(m.group(2))


def test_html_python_frames_coloured_apart_and_markup_in_names_inert(procs, tmp_path):
    # The script sits in a directory whose name would end the data's script
    # element and start markup, if the page let it: its file name is in the
    # Python frames.
    odd = tmp_path / "<" / "script><img src=x onerror=alert(1)><!--"
    odd.mkdir(parents=True)
    script = odd / "py_alloc.py"
    script.write_text((TARGET_SOURCES / "py_alloc.py").read_text())
    html = tmp_path / "report.html"
    lt, last = spawn_python_to_exit(procs, "/usr/bin/python3", script, "--html", html, delay="0.3")
    assert lt.wait(5) == 0
    # The data element ends where the data does, not in a file name.
    json.loads(html.read_text().split('id="leaktop-data">', 1)[1].split("</script>")[0])
    page = load(html, tmp_path)
    assert page.rows and "<img" not in "".join(f["text"] or "" for f in page.frames)
    drawn = check_icicle(page, last)

    def unnamed(key):
        return re.fullmatch(r".*\+0x[0-9a-f]+|\[unknown\]", key[1])

    python = [n for p, n in drawn.items() if p and p[-1][0] == "python" and not unnamed(p[-1])]
    native = [n for p, n in drawn.items() if p and p[-1][0] == "native" and not unnamed(p[-1])]
    unknown = [n for p, n in drawn.items() if p and unnamed(p[-1])]
    assert python and native and unknown
    assert all(190 <= hue(n["fill"])[0] < 230 and hue(n["fill"])[1] > 0 for n in python)
    assert all(12 <= hue(n["fill"])[0] < 48 and hue(n["fill"])[1] > 0 for n in native)
    assert all(hue(n["fill"])[1] == 0 for n in unknown)  # grey
    # The script's own figures: bytes(n) asks for n + 33 bytes, all through malloc.
    for function, marker, size in (("keep_big", "big", 20 * 200033),
                                   ("thread_a_keeps", "thread_a", 10 * 100033)):
        found = topmost(drawn, function)
        assert {p[-1] for p, _ in found} == {
            ("python", f"{function} (py_alloc.py:{alloc_line('py_alloc.py', marker)})", None)}
        assert {page.data["frames"][int(n["data-frame"])]["file"] for _, n in found} == {str(script)}
        assert sum(int(n["data-bytes"]) for _, n in found) == size, function


def test_html_on_sigusr1(procs, tmp_path):
    html = tmp_path / "report.html"
    tgt = procs([target("leak_rate")])
    time.sleep(0.2)
    lt = procs(leaktop("-p", tgt.pid, "--json", "-i", "0.3", "-n", "1000", "--html", html))
    reports = lt.json_lines(5, 30)
    assert not html.exists()
    os.kill(lt.pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not html.exists():
        assert time.monotonic() < deadline, "no HTML report after SIGUSR1"
        reports += lt.json_lines(1, 10)
    reports += lt.json_lines(2, 10)
    assert lt.popen.poll() is None  # still running
    page = load(html, tmp_path)
    # Written at the interval after the signal, with that interval's line
    # (their elapsed times are taken microseconds apart).
    moment = min(range(len(reports)), key=lambda i: abs(reports[i]["elapsed_s"] - page.data["elapsed_s"]))
    assert abs(reports[moment]["elapsed_s"] - page.data["elapsed_s"]) < 0.1
    check_chart_and_table(page, reports[:moment + 1])
    check_icicle(page, reports[moment])
    # The leak's trend climbs 10240 B per 100 ms.
    leak = [r for r in page.rows if page.data["frames"][page.data["stacks"][page.rows.index(r)]["frames"][1]]
            ["label"].startswith("leak_slowly (leak_rate.c:")]
    assert len(leak) == 1 and len(leak[0]["trend"]) >= 5
    assert leak[0]["trend"] == sorted(leak[0]["trend"]) and leak[0]["trend"][0] < leak[0]["trend"][-1]
