"""make install / make uninstall with PREFIX and DESTDIR: which files land
where, with what modes, and that what is installed works from there."""
import os
import subprocess

import pytest

from conftest import ROOT

DOCS = ["README.md"] + sorted(p.name for p in (ROOT / "docs").glob("*.md"))


def make(*args):
    out = subprocess.run(["make", "-s", "-C", str(ROOT), *args], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def installed(root):
    """Path (relative to DESTDIR) -> permission bits, for every file under it."""
    files = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            files[os.path.relpath(path, root)] = oct(os.stat(path).st_mode & 0o7777)
    return files


@pytest.mark.parametrize("prefix", [None, "/usr", "/opt/leaktop"])
def test_install_and_uninstall(tmp_path, prefix, make_in_checkout):
    destdir = tmp_path / "root"
    args = [f"DESTDIR={destdir}"] + ([f"PREFIX={prefix}"] if prefix else [])
    make("install", *args)
    p = (prefix or "/usr/local").lstrip("/")
    expected = {
        f"{p}/sbin/leaktop": "0o755",
        f"{p}/share/man/man8/leaktop.8": "0o644",
        f"{p}/share/bash-completion/completions/leaktop": "0o644",
        f"{p}/lib/systemd/system/leaktop@.service": "0o644",
    } | {f"{p}/share/doc/leaktop/{doc}": "0o644" for doc in DOCS}
    assert installed(destdir) == expected

    # The installed binary is the one built here, and runs from there.
    binary = destdir / p / "sbin/leaktop"
    assert (ROOT / "leaktop").read_bytes() == binary.read_bytes()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    version_line = version.stdout.strip()
    assert version_line.startswith("leaktop ")

    # The unit starts the installed binary; the page names this version and
    # where the documents went, and renders cleanly.
    unit = (destdir / p / "lib/systemd/system/leaktop@.service").read_text()
    assert f"exec /{p}/sbin/leaktop -p " in unit
    page = destdir / p / "share/man/man8/leaktop.8"
    assert "@" not in page.read_text().replace("leaktop@.service", "").replace("leaktop@myservice", "")
    rendered = subprocess.run(["man", "--warnings", "-l", str(page)], capture_output=True,
                              text=True, env=dict(os.environ, MANWIDTH="100"), check=True)
    assert rendered.stderr == ""
    assert version_line in rendered.stdout
    assert f"/{p}/share/doc/leaktop" in rendered.stdout

    make("uninstall", *args)
    assert installed(destdir) == {}
