"""make deb: a Debian package built with dpkg's tools, installed with apt into
this system, run from /usr/sbin against a target, then removed."""
import fcntl
import os
import re
import subprocess

import pytest

from conftest import LEAKTOP, ROOT, find_stack, target

APT_ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
APT_LOCK = ["-o", "DPkg::Lock::Timeout=300"]  # another apt run may hold it for a while


def run(argv, **kwargs):
    out = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    assert out.returncode == 0, f"{argv}: {out.stdout}{out.stderr}"
    return out.stdout


def package_status():
    out = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", "leaktop"],
                         capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else ""


def owning_package(soname):
    """The installed package that ships this library (Debian's truth, dpkg -S)."""
    owners = run(["dpkg", "-S", f"*/{soname}"])
    return sorted({line.split(":")[0] for line in owners.splitlines()})


@pytest.fixture
def system_lock():
    """One package test at a time on this machine (other checkouts run it too)."""
    with open("/run/lock/leaktop-deb-test.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def test_deb_install_run_remove(procs, system_lock, make_in_checkout):
    if package_status().startswith("install ok installed"):
        pytest.skip("a leaktop package is installed on this system: not replacing it")
    deb = ROOT / run(["make", "-s", "-C", ROOT, "deb"], timeout=600).strip().splitlines()[-1]
    fields = run(["dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends"])
    assert re.search(r"^Architecture: amd64$", fields, re.M), fields

    # Depends names the package of every shared library the binary needs.
    depends = {d.split()[0] for d in
               re.search(r"^Depends: (.*)$", fields, re.M).group(1).split(", ")}
    needed = re.findall(r"\(NEEDED\).*\[(.*)\]", run(["readelf", "-d", ROOT / "leaktop"]))
    assert "libbpf.so.1" in needed
    for soname in needed:
        assert set(owning_package(soname)) & depends, (soname, depends)

    built_version = run([LEAKTOP, "--version"]).strip()
    try:
        run(["apt-get", "install", "-y", "-q", *APT_LOCK, deb], env=APT_ENV, timeout=900)
        assert package_status().startswith("install ok installed")
        listed = set(run(["dpkg", "-L", "leaktop"]).split())
        assert {"/usr/sbin/leaktop", "/usr/share/man/man8/leaktop.8.gz",
                "/usr/share/bash-completion/completions/leaktop",
                "/usr/lib/systemd/system/leaktop@.service"} <= listed
        assert run(["/usr/sbin/leaktop", "--version"]).strip() == built_version
        assert run(["man", "-w", "8", "leaktop"]).strip() == "/usr/share/man/man8/leaktop.8.gz"

        # The installed binary traces a target: exact.c's keep_blocks keeps
        # 100 blocks of 1000 bytes.
        lt = procs(["/usr/sbin/leaktop", "--json", "-i", "0.5", "-n", "50", "--",
                    target("exact")])
        for _ in range(1000):
            line = lt.read_line(30)
            assert line is not None, f"no 'ready' from the target: {lt.stderr()}"
            if line == "ready":
                break
        report = lt.json_lines(3, 30)[-1]
        stack = find_stack(report, "keep_blocks", "malloc")
        assert (stack["outstanding_bytes"], stack["outstanding_allocs"]) == (100000, 100)
        lt.kill()
    finally:
        run(["apt-get", "purge", "-y", "-q", *APT_LOCK, "leaktop"], env=APT_ENV, timeout=900)
    assert not package_status().startswith("install ok installed")
    for path in listed:
        assert not os.path.isfile(path), path
