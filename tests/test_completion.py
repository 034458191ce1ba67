"""Bash completion (completion/leaktop.bash): valid bash, the options of --help,
and running processes as "PID (command)" after -p."""
import os
import shutil
import subprocess

from conftest import ROOT
from test_manpage import help_options

SCRIPT = ROOT / "completion" / "leaktop.bash"


def complete(*words):
    """COMPREPLY for a command line whose last word is being completed, as bash
    computes it once the script is sourced."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    script = f"""
        source '{SCRIPT}'
        COMP_WORDS=({quoted}); COMP_CWORD=$(({len(words)} - 1)); COMPREPLY=()
        _leaktop
        printf '%s\\n' "${{COMPREPLY[@]}}"
    """
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    return [line for line in out.stdout.split("\n") if line]


def test_completion_script_syntax():
    out = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_completion_registers_for_leaktop():
    out = subprocess.run(["bash", "--norc", "-c", f"source '{SCRIPT}'; complete -p leaktop"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "complete -F _leaktop leaktop"


def test_completion_offers_the_options_of_help():
    assert set(complete("leaktop", "")) == help_options() | {"--"}
    assert complete("leaktop", "--prom") == ["--prom-file", "--prom-top"]
    assert complete("leaktop", "-p", "1", "--ver") == ["--version"]
    assert complete("leaktop", "-i", "") == []  # a number: nothing to offer


def test_completion_of_pid_by_number_and_by_name(procs, tmp_path):
    # A copy of sleep under a name no other process has (its comm).
    name = f"ltcomp{os.getpid() % 100000}"
    shutil.copy("/bin/sleep", tmp_path / name)
    pid = procs([tmp_path / name, "300"]).pid
    listed = complete("leaktop", "-p", "")
    assert f"{pid} ({name})" in listed
    assert "2 (kthreadd)" not in listed  # kernel threads: nothing to trace
    # By its PID: alone, it completes to the PID; with others whose PID starts
    # the same way, each shows its command name.
    by_pid = complete("leaktop", "-p", str(pid))
    assert by_pid == [str(pid)] or f"{pid} ({name})" in by_pid, by_pid
    assert complete("leaktop", "-p", name) == [str(pid)]
    assert complete("leaktop", "--pid", "=", name) == [str(pid)]
    assert complete("leaktop", "-p", f"1,{name}") == [f"1,{pid}"]


def test_completion_of_files_and_of_the_command(tmp_path):
    (tmp_path / "heap.folded").write_text("")
    assert complete("leaktop", "--folded", str(tmp_path / "heap.")) == [str(tmp_path / "heap.folded")]
    assert complete("leaktop", "--pprof", str(tmp_path / "heap.")) == [str(tmp_path / "heap.folded")]
    assert "sleep" in complete("leaktop", "-c", "2", "--", "slee")
