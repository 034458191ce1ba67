"""The --html report as a real browser shows it: Debian's chromium, headless and
off the network, loads the file; its console messages, a screenshot and the DOM
its script built are handed back, the DOM read with Python's HTML parser."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from html.parser import HTMLParser

CHROMIUM = shutil.which("chromium")


def chromium(page, workdir, *args, timeout=120):
    """Runs headless chromium on the file `page` with `args` (--dump-dom,
    --screenshot=...); returns (stdout, console lines).  The proxy is a closed
    port, so nothing can be fetched even if the page asked."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=workdir)
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--proxy-server=127.0.0.1:9",
            f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            "--window-size=1280,1600", *args, page.as_uri()]
    browser = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = browser.communicate(timeout=timeout)
    finally:
        try:  # its helpers (zygote, GPU process) are in the session it leads
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)
    assert browser.returncode == 0, err
    return out, [line for line in err.splitlines() if ":CONSOLE" in line]


class Page(HTMLParser):
    """What the report's script drew: status, chart points, table rows with
    their trends, icicle frames (attributes, fill, text), summary cards, and
    the embedded data."""

    def __init__(self, dom):
        super().__init__()
        self.status = None
        self.points, self.rows, self.frames, self.cards = [], [], [], {}
        self.data_text = None
        self.icicle_width = None
        self._in_data = False
        self._row = self._frame = None
        self._frame_depth = 0
        self._in_text = False
        self.feed(dom)
        self.data = json.loads(self.data_text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = a.get("class", "").split()
        if tag == "body":
            self.status = a.get("data-status")
        elif tag == "script" and a.get("id") == "leaktop-data":
            self._in_data = True
            self.data_text = ""
        elif tag == "svg" and a.get("id") == "icicle":
            self.icicle_width = float(a["data-width"])
        elif tag == "circle" and "pt" in cls:
            self.points.append((float(a["data-elapsed-s"]), int(a["data-bytes"])))
        elif tag == "tr" and "row" in cls:
            self._row = dict(a)
            self.rows.append(self._row)
        elif tag == "svg" and "spark" in cls and self._row is not None:
            values = a.get("data-values", "")
            self._row["trend"] = [int(v) for v in values.split(",")] if values else []
        elif tag == "div" and "card" in cls:
            self.cards[a["data-key"]] = float(a["data-value"])
        elif tag == "g" and "frame" in cls:
            self._frame = dict(a, above="above" in cls, text=None)
            self.frames.append(self._frame)
        elif tag == "rect" and self._frame is not None:
            self._frame["fill"] = a["fill"]
        elif tag == "text" and self._frame is not None:
            self._in_text = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_data = False
        elif tag == "tr":
            self._row = None
        elif tag == "g":
            self._frame = None
        elif tag == "text":
            self._in_text = False

    def handle_data(self, text):
        if self._in_data:
            self.data_text += text
        elif self._in_text and self._frame is not None:
            self._frame["text"] = (self._frame["text"] or "") + text


def frame_key(frame):
    """A frame as the JSON line names it (DESIGN.md)."""
    return (frame["kind"], frame["function"], frame["file"], frame["line"], frame["object"])


def label_of(frame):
    """What leaktop's views call a frame: "function (file:line)" with the
    file's base name, "function", or object+0xOFFSET when it has no name (the
    offset is not in the JSON line: only its form is checked)."""
    if frame["function"] is None:
        return re.escape(os.path.basename(frame["object"] or "[unknown]")) + r"\+0x[0-9a-f]+|\[unknown\]"
    if frame["file"] is None:
        return re.escape(frame["function"])
    where = os.path.basename(frame["file"]) + (f":{frame['line']}" if frame["line"] else "")
    return re.escape(f"{frame['function']} ({where})")


def node_key(frame):
    """A node of the page's icicle: frames of one kind, label and object are one."""
    return (frame["kind"], frame["label"], frame["object"])


def icicle_paths(page):
    """Each drawn frame of the icicle (not the ancestors above a zoom) by its
    path of node keys from the root: {path: frame attributes}."""
    frames = page.data["frames"]
    by_node = {f["data-node"]: f for f in page.frames if not f["above"]}
    paths = {}
    for node in by_node.values():
        path, n = [], node
        while n["data-parent"] != "":
            path.append(node_key(frames[int(n["data-frame"])]))
            n = by_node[n["data-parent"]]
        paths[tuple(reversed(path))] = node
    return paths


def expected_tree(report, page):
    """The icicle a report's stacks make: {path from the root: [bytes, allocs]}
    for every stack holding bytes, outermost frame first.  Each stack of the
    report must be in the page's data with the same figures and frames (the
    page's labels tell apart unnamed frames, which the JSON line does not)."""
    embedded = {s["id"]: s for s in page.data["stacks"]}
    frames = page.data["frames"]
    tree = {}
    for stack in report["stacks"]:
        mine = embedded[stack["id"]]
        assert (mine["outstanding_bytes"], mine["outstanding_allocs"]) == \
            (stack["outstanding_bytes"], stack["outstanding_allocs"])
        assert [frame_key(frames[i]) for i in mine["frames"]] == [frame_key(f) for f in stack["frames"]]
        for i in mine["frames"]:
            assert re.fullmatch(label_of(frames[i]), frames[i]["label"]), frames[i]
        if stack["outstanding_bytes"] <= 0:
            continue
        keys = [node_key(frames[i]) for i in reversed(mine["frames"])]
        for depth in range(len(keys) + 1):
            node = tree.setdefault(tuple(keys[:depth]), [0, 0])
            node[0] += stack["outstanding_bytes"]
            node[1] += stack["outstanding_allocs"]
    return tree
