"""A 10-second run of each libFuzzer harness (tests/fuzz): every seed of its
corpus first, then new inputs for the rest of the time; `make fuzz` runs longer.
One at a time under xdist (whole_cpu): each takes a whole CPU."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

FUZZERS = Path(os.environ.get("FUZZERS_DIR", str(ROOT / "build")))


@pytest.mark.parametrize("harness", sorted(p.name for p in FUZZERS.glob("fuzz_*")
                                           if os.access(p, os.X_OK)))
def test_fuzz_smoke(harness, tmp_path, whole_cpu):
    seeds = ROOT / "tests" / "fuzz" / "corpus" / harness.removeprefix("fuzz_")
    corpus = tmp_path / "corpus"
    shutil.copytree(seeds, corpus)
    result = subprocess.run(
        [str(FUZZERS / harness), "-max_total_time=10", "-timeout=10",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "INITED" in result.stderr, result.stderr[-4000:]  # every seed was run
    assert not list(tmp_path.glob("crash-*")) and not list(tmp_path.glob("leak-*"))
