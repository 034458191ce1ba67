"""The manual page leaktop(8): renders without warnings, has the usual sections,
and lists exactly the options `leaktop --help` lists."""
import os
import re
import subprocess

from conftest import LEAKTOP, ROOT

PAGE = ROOT / "docs" / "leaktop.8"
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "OUTPUT", "EXIT STATUS",
            "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"]
# An option at the start of an entry: "-p, --pid PID", "      --json", "-h, --help".
OPTION_ENTRY = re.compile(r"(-[A-Za-z]|--[a-z][a-z-]*)(?:, (--[a-z][a-z-]*))?")


def render(width=80):
    """The page as man shows it, as plain text, and man's warnings."""
    env = dict(os.environ, MANWIDTH=str(width), LANG="C.UTF-8")
    out = subprocess.run(["man", "--warnings", "-l", str(PAGE)], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    plain = subprocess.run(["col", "-b"], input=out.stdout, capture_output=True, text=True,
                           check=True).stdout
    return plain, out.stderr


def sections(text):
    """Section name -> its lines (headings are the unindented lines)."""
    found, current = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            current = line.strip()
            found[current] = []
        elif current:
            found[current].append(line)
    return found


def help_options():
    out = subprocess.run([LEAKTOP, "--help"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    options = set()
    for line in out.stdout.splitlines():
        # Option lines are indented and begin with the option; the text after
        # it (and wrapped description lines, indented further) is not read.
        m = re.match(r" {2,6}(-[A-Za-z], --[a-z][a-z-]*|--[a-z][a-z-]*)(?=\s|$)", line)
        if m:
            options |= set(m.group(1).split(", "))
    return options


def man_options():
    text, _ = render(width=200)  # wide: no entry is wrapped
    options = set()
    for line in sections(text)["OPTIONS"]:
        # Entry tags are indented 7 columns, their descriptions further.
        m = re.match(r" {7}" + OPTION_ENTRY.pattern, line)
        if m:
            options |= {o for o in m.groups() if o}
    return options


def test_man_renders_without_warnings():
    for width in (80, 200):
        text, warnings = render(width)
        assert warnings == "", warnings
        assert "LEAKTOP(8)" in text.splitlines()[0]
    # groff with every warning on, as Debian's lintian runs it.
    out = subprocess.run(["groff", "-man", "-ww", "-z", str(PAGE)], capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_man_has_the_usual_sections_in_order():
    text, _ = render()
    headings = [h for h in sections(text) if h in SECTIONS]
    assert headings == SECTIONS, headings


def test_man_and_help_list_the_same_options():
    in_help, in_man = help_options(), man_options()
    # A sanity floor, so that a parser that finds nothing cannot pass.
    assert {"-p", "--pid", "--json", "-h", "--help", "--version"} <= in_help
    assert in_help - in_man == set(), "in --help, missing from docs/leaktop.8"
    assert in_man - in_help == set(), "in docs/leaktop.8, missing from --help"
