"""The CPython interpreters the tests run leaktop on, when present: pyenv's
shared-libpython builds (pymalloc's functions probed), Debian's LTO
python3.11, and the builds of ../shared/pythons (a static LTO 3.13 like
Debian's and Ubuntu's, a free-threaded 3.13t)."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _pyenv_root():
    if os.environ.get("PYENV_ROOT"):
        return Path(os.environ["PYENV_ROOT"])
    try:
        return Path(subprocess.run(["pyenv", "root"], capture_output=True, text=True,
                                   check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return Path.home() / ".pyenv"


PYENV_ROOT = _pyenv_root()
PYENV_VERSIONS = ["3.10.13", "3.11.7", "3.12.1", "3.13.0"]
# ../shared/pythons beside the checkout (or beside its worktree directory)
SHARED_PYTHONS = Path(os.environ.get("SHARED_PYTHONS") or next(
    (p for p in (ROOT.parent / "shared" / "pythons", ROOT.parent.parent / "shared" / "pythons")
     if p.is_dir()), ROOT.parent / "shared" / "pythons"))
DEBIAN = Path("/usr/bin/python3.11")


def pyenv(version):
    minor = ".".join(version.split(".")[:2])
    return PYENV_ROOT / "versions" / version / "bin" / f"python{minor}"


def pyenv_params():
    """One pytest parameter per pyenv version, skipped when not installed."""
    return [pytest.param(pyenv(v), id=v, marks=pytest.mark.skipif(
        not pyenv(v).exists(), reason=f"{pyenv(v)} (pyenv {v}) not installed"))
        for v in PYENV_VERSIONS]


def shared_python(name, binary):
    """A build of ../shared/pythons (pytest.param, skipped when absent)."""
    path = SHARED_PYTHONS / name / "bin" / binary
    return pytest.param(path, id=name, marks=pytest.mark.skipif(
        not path.exists(), reason=f"{path} not present (../shared/pythons/{name})"))
