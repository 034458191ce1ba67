"""leaktop --version: git describe at build time, the VERSION file without git."""
import shutil
import subprocess

from conftest import LEAKTOP, ROOT


def run(argv, cwd=None):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def git(tree, *args):
    return run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tree)


def source_copy(tmp_path):
    """What the version needs from the source tree, outside any git repository."""
    tree = tmp_path / "leaktop"
    (tree / "scripts").mkdir(parents=True)
    for name in ["Makefile", "VERSION", "scripts/version.sh"]:
        shutil.copy2(ROOT / name, tree / name)
    return tree


def test_version_names_the_built_commit():
    release = (ROOT / "VERSION").read_text().strip()
    commit = run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT)
    out = subprocess.run([LEAKTOP, "--version"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    name, version = out.stdout.rstrip("\n").split(" ")
    assert name == "leaktop"
    tags = run(["git", "tag", "--list", "v[0-9]*"], cwd=ROOT)
    if not tags:  # no release tag yet: the VERSION file's release and the commit
        assert version.startswith(f"{release}+g{commit}"), version
    assert commit in version


def test_version_file_without_git(tmp_path):
    tree = source_copy(tmp_path)
    (tree / "VERSION").write_text("7.8.9\n")
    assert run([tree / "scripts/version.sh"]) == "7.8.9"
    # The build uses it too (only the header: the rest needs the whole tree).
    subprocess.run(["make", "-s", "-C", tree, "build/version.h"], check=True, capture_output=True)
    assert (tree / "build/version.h").read_text() == '#define LEAKTOP_VERSION "7.8.9"\n'


def test_version_from_tags(tmp_path):
    tree = source_copy(tmp_path)
    git(tree, "init", "-q")
    git(tree, "add", ".")
    git(tree, "commit", "-q", "-m", "one")
    commit = git(tree, "rev-parse", "--short", "HEAD")
    release = (tree / "VERSION").read_text().strip()
    assert run([tree / "scripts/version.sh"]) == f"{release}+g{commit}"
    git(tree, "tag", "v2.3.4")
    assert run([tree / "scripts/version.sh"]) == "2.3.4"
    (tree / "VERSION").write_text("changed\n")
    assert run([tree / "scripts/version.sh"]) == "2.3.4-dirty"
    git(tree, "commit", "-q", "-a", "-m", "two")
    commit = git(tree, "rev-parse", "--short", "HEAD")
    assert run([tree / "scripts/version.sh"]) == f"2.3.4-1-g{commit}"


def test_version_ignores_an_enclosing_repository(tmp_path):
    """A tarball unpacked inside another project's checkout keeps its own version."""
    git(tmp_path, "init", "-q")
    tree = source_copy(tmp_path)
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "outer")
    assert run([tree / "scripts/version.sh"]) == (tree / "VERSION").read_text().strip()
