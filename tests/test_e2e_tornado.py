"""The motivating case of DESIGN.md: a tornado service (Debian's python3-tornado)
whose handler keeps every request body alive through functools.lru_cache,
under steady 1 MiB PUTs; leaktop attached to it live.  On Debian's python3.11,
and on the other interpreters present with a copy of Debian's tornado package
on PYTHONPATH (pure Python apart from an optional abi3 speedup)."""
import http.client
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from conftest import TARGET_SOURCES, leaktop
from pythons import DEBIAN, pyenv_params, shared_python

SERVICE = str(TARGET_SOURCES / "tornado_service.py")
BODY = 1 << 20
RATE = 10.0  # requests per second

TORNADO = Path("/usr/lib/python3/dist-packages/tornado")
pytestmark = pytest.mark.skipif(not TORNADO.is_dir(), reason="python3-tornado not installed")
PYTHONS = [pytest.param(DEBIAN, id="debian-3.11")] + pyenv_params() + [
    shared_python("3.13-lto", "python3.13")]


@pytest.fixture(scope="module")
def tornado_path(tmp_path_factory):
    """A directory holding only Debian's tornado package, for PYTHONPATH."""
    path = tmp_path_factory.mktemp("tornado")
    shutil.copytree(TORNADO, path / "tornado", ignore=shutil.ignore_patterns("test", "__pycache__"))
    return path


class Load:
    """PUTs of BODY bytes at RATE per second on one keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.done = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        body = b"x" * BODY
        start = time.monotonic()
        while not self.stop.is_set():
            conn.request("PUT", "/upload", body)
            response = conn.getresponse()
            assert response.read() == str(BODY).encode()
            self.done += 1
            delay = start + self.done / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def rate_over(self, seconds):
        before, t0 = self.done, time.monotonic()
        time.sleep(seconds)
        return (self.done - before) / (time.monotonic() - t0)

    def close(self):
        self.stop.set()
        self.thread.join(15)


def serve_under_load(procs, python, tornado_path, *args):
    env = None if python == DEBIAN else dict(os.environ, PYTHONPATH=str(tornado_path))
    service = procs([python, SERVICE, *args], env=env)
    line = service.read_line(20)
    assert line and line.startswith("port "), f"service did not start: {service.stderr()}"
    lt = procs(leaktop("-p", service.pid, "--json", "-i", "1", "--window", "5"))
    lt.json_lines(1, 20)
    load = Load(int(line.split()[1]))
    time.sleep(3)  # the window fills
    rate = load.rate_over(6)
    report = lt.fresh_json(1, 10)
    load.close()
    return report, rate


@pytest.mark.parametrize("python", PYTHONS)
def test_lru_cache_leak_is_the_top_stack(procs, python, tornado_path):
    report, rate = serve_under_load(procs, python, tornado_path, "buggy")
    expected = BODY * rate
    top = report["stacks"][0]
    assert abs(top["growth_bytes_per_s"] - expected) <= 0.15 * expected, (top, rate)
    # 3.10 names functions without their class (no co_qualname)
    name = (lambda f: f.split(".")[-1]) if "3.10" in str(python) else (lambda f: f)
    frames = [(f["function"], Path(f["file"] or "").name) for f in top["frames"] if f["kind"] == "python"]
    # tornado assembles the body (b"".join of the chunks) as the request ends...
    assert frames[0] == (name("_HandlerDelegate.finish"), "web.py")
    web = next(f for f in top["frames"] if f["kind"] == "python")
    assert 'b"".join(self.chunks)' in Path(web["file"]).read_text().splitlines()[web["line"] - 1]
    # ...for the connection reading the request, under the IOLoop the service started.
    assert (name("HTTP1Connection._read_message"), "http1connection.py") in frames
    assert frames[-2:] == [("main", "tornado_service.py"), ("<module>", "tornado_service.py")]
    # malloc, or pymalloc's function where it is probed (over 512 B it calls malloc)
    assert top["frames"][0]["function"] in ("malloc", "PyObject_Malloc")


@pytest.mark.parametrize("python", PYTHONS)
def test_fixed_service_shows_no_growing_stack(procs, python, tornado_path):
    report, rate = serve_under_load(procs, python, tornado_path)
    assert rate > 0.8 * RATE
    growing = [s for s in report["stacks"] if s["growth_bytes_per_s"] > 0.05 * BODY * rate]
    assert not growing, growing[:1]
    # Positive control: the service's Python allocations were seen (named by their lines).
    assert any(f["kind"] == "python" and s["outstanding_bytes"] > 0
               for s in report["stacks"] for f in s["frames"]), report["stacks"][:2]
