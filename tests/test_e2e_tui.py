"""The live view, driven inside tmux: ranking, sort key, stack detail, resize,
quitting with the terminal restored."""
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import LEAKTOP, target


class Tmux:
    """A private tmux server (its own socket) running one command in a pane."""

    def __init__(self, tmp_path, command, width=120, height=30, term="xterm-256color"):
        self.socket = f"leaktop-test-{os.getpid()}-{time.monotonic_ns()}"
        self.done = tmp_path / "status"
        script = f"TERM={term} {command}; echo $? > {self.done}; sleep 600"
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "sh", "-c", script)

    def tmux(self, *args):
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, timeout=10).stdout

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "0")

    def keys(self, *keys):
        self.tmux("send-keys", "-t", "0", *keys)

    def wait_screen(self, pattern, timeout=30):  # attaching takes >15 s at load 15 on 2 CPUs
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if re.search(pattern, text, re.M):
                return text
            time.sleep(0.1)
        raise AssertionError(f"screen never matched {pattern!r}:\n{self.screen()}")

    def wait_until(self, condition, what, timeout=30):
        """The screen once condition(screen) holds (for conditions a pattern cannot say)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if condition(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"screen never showed {what}:\n{self.screen()}")

    def wait_exit(self, timeout=60):  # quitting took 10-30+ s on a loaded machine (issue 20 item 12)
        deadline = time.monotonic() + timeout
        while not self.done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        return int(self.done.read_text())

    def leaktop_pid(self):
        """leaktop is the child of the pane's shell."""
        shell = self.tmux("display", "-p", "-t", "0", "#{pane_pid}").strip()
        with open(f"/proc/{shell}/task/{shell}/children") as f:
            return int(f.read().split()[0])

    def close(self):
        try:
            os.kill(self.leaktop_pid(), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


@pytest.fixture
def tui(tmp_path, procs):
    """Starts a target (leak_rate) with --wait, leaktop's TUI on it in tmux, then
    lets the target allocate once the view is up (so big_static is seen too), and
    waits for its top stack on row 1.  The target is t.target."""
    sessions = []

    def start(width=120, height=30, term="xterm-256color", name="leak_rate", top="leak_slowly"):
        tgt = procs([target(name), "--wait"])
        tgt.wait_line("waiting", 10)
        t = Tmux(tmp_path, f"{LEAKTOP} -i 0.5 --window 2 -p {tgt.pid}", width, height, term)
        t.target = tgt
        sessions.append(t)
        t.wait_screen(r"GROWTH/s")
        os.kill(tgt.pid, signal.SIGUSR1)
        t.wait_screen(rf"^\s+1 .*{top}")
        return t

    yield start
    for t in sessions:
        t.close()


def table_rows(screen):
    return [line for line in screen.splitlines() if re.match(r"\s+\d+\s+\S+ [KMG]?i?B/s", line)]


def parse_rate(text):
    value, unit = re.match(r"([\d.]+) (B|KiB|MiB|GiB)/s", text).groups()
    return float(value) * {"B": 1, "KiB": 1024, "MiB": 1 << 20, "GiB": 1 << 30}[unit]


def row_allocs(row):
    """The ALLOCS column of a table row."""
    return int(re.match(r"\s+\d+\s+[\d.]+ \S+/s\s+[\d.]+ \S+\s+(\d+) ", row).group(1))


def test_top_row_is_the_leak_at_its_rate(tui):
    t = tui()
    # The growth window (2 s) holds only samples taken since the leak began
    # (10 blocks a second) once a snapshot holds 30 of its blocks.
    screen = t.wait_until(lambda screen: row_allocs(table_rows(screen)[0]) >= 30,
                          "30 leaked blocks on row 1")
    first = table_rows(screen)[0]
    assert "leak_slowly (leak_rate.c:" in first
    rate = parse_rate(re.search(r"[\d.]+ \w+/s", first).group(0))
    assert rate == pytest.approx(102400, rel=0.10)
    assert int(re.search(r"probes (\d+)", screen).group(1)) > 0
    # 10 malloc calls a second, each at least one probe hit.
    assert int(re.search(r"hits (\d+)/s", screen).group(1)) >= 5
    assert "lost" not in screen  # shown only when non-zero


def test_sort_key_changes_order(tui):
    t = tui()
    t.wait_screen(r"^\s+2 .*big_static")
    assert "leak_slowly" in table_rows(t.screen())[0]  # by growth
    t.keys("s")
    screen = t.wait_screen(r"\*OUTSTANDING")
    assert "big_static" in table_rows(screen)[0]  # by outstanding: 10 MiB first
    t.keys("s")
    t.wait_screen(r"\*ALLOCS")
    assert "leak_slowly" in table_rows(t.screen())[0]  # by count


def test_enter_shows_the_whole_stack(tui):
    t = tui()
    t.keys("Enter")
    screen = t.wait_screen(r"^\s+1\s+leak_slowly \(leak_rate\.c:\d+\)\s+\[.*/leak_rate\]")
    assert re.search(r"^\s+0\s+malloc.*\[.*libc\.so\.6\]", screen, re.M)
    assert re.search(r"^\s+2\s+main \(leak_rate\.c:\d+\)", screen, re.M)
    t.keys("Escape")
    t.wait_screen(r"GROWTH/s")


def detail_stack(t):
    """The stack view opened by Enter: its frame lines."""
    screen = t.wait_screen(r"^stack [0-9a-f]{16} ")
    return [line for line in screen.splitlines() if re.match(r"\s+\d+\s+\S.*\[", line)]


def shows_function(lines, name):
    return any(re.search(rf"\b{name} \(", line) for line in lines)


def test_enter_opens_the_top_row_after_the_ranking_changed(tui):
    """The bar stays on row 1 as the rows re-sort (top, htop): Enter with no other
    key opens the stack that is on top now, not the one that was on top first."""
    t = tui(name="rank_swap", top="first_leader")
    os.kill(t.target.pid, signal.SIGUSR2)  # second_leader now leaks twice as fast
    t.wait_screen(r"^\s+1 .*second_leader(.|\n)*^\s+2 .*first_leader")
    t.keys("Enter")
    frames = detail_stack(t)
    assert shows_function(frames, "second_leader"), frames
    assert not shows_function(frames, "first_leader"), frames


def test_enter_opens_the_leak_in_the_demo(tmp_path):
    """make demo: load_table (1 MiB, growth 0) is on top of the first ranking; once
    the session leak tops the ranking, Enter opens the leak."""
    t = Tmux(tmp_path, f"{LEAKTOP} -i 0.5 --window 2 -- {target('demo')}")
    try:
        t.wait_screen(r"^\s+1 .*leak_session_buffer", timeout=60)  # spawning is slow under load
        t.keys("Enter")
        frames = detail_stack(t)
        assert shows_function(frames, "leak_session_buffer"), frames
        assert not shows_function(frames, "load_table"), frames
    finally:
        t.close()


def test_follow_keeps_the_bar_on_its_stack(tui):
    """F (htop's follow): the bar moves with the stack as the rows re-sort, and the
    header says so; moving the bar ends following and selects the row."""
    t = tui(name="rank_swap", top="first_leader")
    t.keys("?")
    t.wait_screen(r"^\s+F\s+follow the stack under the bar")
    t.keys("x")  # any key closes the help
    t.wait_screen(r"GROWTH/s")
    t.keys("F")
    t.wait_screen(r"\[FOLLOWING\]")
    os.kill(t.target.pid, signal.SIGUSR2)
    t.wait_screen(r"^\s+1 .*second_leader(.|\n)*^\s+2 .*first_leader")
    t.keys("Enter")
    frames = detail_stack(t)
    assert shows_function(frames, "first_leader"), frames
    assert not shows_function(frames, "second_leader"), frames
    t.keys("Escape")
    t.wait_screen(r"GROWTH/s")
    t.keys("k")  # from row 2 (first_leader) up to row 1
    t.wait_until(lambda screen: "[FOLLOWING]" not in screen, "following ended")
    t.keys("Enter")
    frames = detail_stack(t)
    assert shows_function(frames, "second_leader"), frames


def laid_out(screen, height, titles, absent=()):
    """Whether the view is drawn for this pane: tmux wraps or clips what is drawn
    for another size (capture-pane never shows a line wider than the pane), so
    check what a wrong size breaks: the column titles on one line, the row's
    rank, figures and frame on one line, and the key line on the pane's last."""
    lines = screen.split("\n")[:height]
    title = next((line for line in lines if re.match(r"\s+#\s", line)), "")
    return (re.match(r"\s+#\s+" + r"\s+".join(titles) + r"\s*$", title)
            and not any(word in screen for word in absent)
            and any(re.match(r"\s+1\s+[\d.]+ \S+/s\s+[\d.]+ \S+\s+.*leak_slowly\b", line)
                    for line in lines)
            and lines[height - 1].startswith("h help"))


def test_resize_keeps_the_layout(tui):
    t = tui(width=120, height=30)
    t.tmux("resize-window", "-t", "0", "-x", "50", "-y", "12")
    # 50 columns: no room for ALLOCS and TREND.
    t.wait_until(lambda screen: laid_out(screen, 12, [r"\*GROWTH/s", "OUTSTANDING", "WHERE"],
                                         absent=["ALLOCS", "TREND"]),
                 "the 50x12 layout")
    t.tmux("resize-window", "-t", "0", "-x", "160", "-y", "40")
    t.wait_until(lambda screen: laid_out(screen, 40, [r"\*GROWTH/s", "OUTSTANDING", "ALLOCS",
                                                      "TREND", "WHERE"]),
                 "the 160x40 layout, all columns back")


def test_quit_restores_terminal_and_prints_report(tui):
    t = tui()
    t.wait_screen(r"^\s+1 .*leak_slowly")
    assert t.tmux("display", "-p", "-t", "0", "#{alternate_on}").strip() == "1"
    t.keys("q")
    assert t.wait_exit() == 0
    assert t.tmux("display", "-p", "-t", "0", "#{alternate_on}").strip() == "0"
    screen = t.screen()
    assert "GROWTH" in screen and "leak_slowly (leak_rate.c:" in screen  # the final report


@pytest.mark.parametrize("term", ["xterm", "screen", "tmux-256color"])
def test_other_terminals(tui, term):
    t = tui(term=term)
    t.keys("h")
    t.wait_screen(r"pause the display")
    t.keys("x")
    t.wait_screen(r"GROWTH/s")
    t.keys("q")
    assert t.wait_exit() == 0


def data_kib(pid):
    """The target's data segment (its heap grows it: rank_swap leaks 100-200 KiB/s)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^VmData:\s+(\d+) kB", f.read(), re.M).group(1))


def test_pause_freezes_the_display(tui):
    t = tui(name="rank_swap", top="first_leader")
    t.keys("p")
    frozen = t.wait_screen(r"\[PAUSED\]")
    # Nothing moves, not even the probe hits/s, while the target switches to
    # twice the calls and leaks 300 KiB more (1.5 s or more, 3+ intervals),
    # though collection goes on.
    os.kill(t.target.pid, signal.SIGUSR2)
    start = data_kib(t.target.pid)
    deadline = time.monotonic() + 60
    while data_kib(t.target.pid) < start + 300:
        assert t.screen() == frozen
        assert time.monotonic() < deadline, "the target stopped leaking"
        time.sleep(0.1)
    assert t.screen() == frozen
    t.keys("p")
    t.wait_until(lambda screen: "[PAUSED]" not in screen and screen != frozen, "the live view")


def test_target_exit_restores_terminal(tmp_path, procs):
    tgt = procs([target("exits"), "--wait"])
    tgt.wait_line("waiting", 10)
    t = Tmux(tmp_path, f"{LEAKTOP} -i 0.5 -p {tgt.pid}")
    try:
        t.wait_screen(r"GROWTH/s")
        os.kill(tgt.pid, signal.SIGUSR1)
        assert t.wait_exit() == 0
        screen = t.screen()
        assert t.tmux("display", "-p", "-t", "0", "#{alternate_on}").strip() == "0"
        assert f"PID {tgt.pid} (exits) exited" in screen
        assert "keep_then_exit (exits.c:" in screen  # the final report
    finally:
        t.close()


def test_plus_minus_change_the_interval(tui):
    t = tui()
    t.wait_screen(r"interval 0\.5s")
    t.keys("+")
    t.wait_screen(r"interval 0\.25s")
    t.keys("-")
    t.keys("-")
    t.wait_screen(r"interval 1s")
    # Reports now come once a second: elapsed moves by whole seconds.
    first = re.search(r"elapsed (\d+):(\d+):(\d+)", t.screen()).groups()
    t.wait_until(lambda s: re.search(r"elapsed (\d+):(\d+):(\d+)", s).groups() != first, "a new report")


def test_r_resets_the_growth_history(tui):
    t = tui()
    t.wait_until(lambda s: table_rows(s) and parse_rate(re.search(r"[\d.]+ \w+/s", table_rows(s)[0]).group(0)) > 0,
                 "the leak growing on row 1")
    t.keys("r")
    # Right after a reset the history holds one reading: no growth yet.
    t.wait_until(lambda s: any("leak_slowly" in row and re.match(r"\s+\d+\s+0 B/s", row)
                               for row in table_rows(s)), "the leak's growth back to 0 after r")


def test_sigterm_restores_terminal(tui):
    t = tui()
    assert t.tmux("display", "-p", "-t", "0", "#{alternate_on}").strip() == "1"
    os.kill(t.leaktop_pid(), signal.SIGTERM)
    assert t.wait_exit() == 0
    assert t.tmux("display", "-p", "-t", "0", "#{alternate_on}").strip() == "0"
    assert "leak_slowly (leak_rate.c:" in t.screen()  # the final report


def test_arrow_keys_move_the_bar(tui):
    """Down then Enter opens row 2's stack; Up and Enter row 1's again."""
    t = tui()
    # Rows 2 and below all grow at 0 B/s and may trade places between the
    # screen read here and the keys (a loaded machine): the second row is read
    # again for each try.  Without Down, Enter opens row 1 (leak_slowly) every time.
    seen = []
    for _ in range(3):
        rows = t.wait_until(lambda s: len(table_rows(s)) >= 2, "two rows")
        second = re.search(r"\s(\w+) \(leak_rate\.c:", table_rows(rows)[1])
        assert second, table_rows(rows)[1]
        t.keys("Down")
        t.keys("Enter")
        stack = detail_stack(t)
        t.keys("Escape")
        t.wait_screen(r"GROWTH/s")
        if shows_function(stack, second.group(1)):
            break  # the bar stays on row 2
        seen.append((second.group(1), stack))
        t.keys("Up")
    else:
        raise AssertionError(f"Down then Enter never opened row 2's stack: {seen}")
    t.keys("Up")
    t.keys("Enter")
    assert shows_function(detail_stack(t), "leak_slowly")


def test_process_list_key(tmp_path, procs):
    """P shows the traced processes (-p A,B) with each one's outstanding
    bytes, P again the stacks."""
    a = procs([target("prefork"), "0", "--wait"])
    b = procs([target("prefork"), "0", "--wait"])
    for p in (a, b):
        p.wait_line("waiting", 10)
    t = Tmux(tmp_path, f"{LEAKTOP} -i 0.5 -p {a.pid},{b.pid}")
    try:
        t.wait_screen(r"GROWTH/s")
        t.wait_screen(r", 2 processes")
        os.kill(a.pid, signal.SIGUSR1)  # a builds its 8 MiB table, b does nothing
        t.wait_screen(r"^\s+1 .*build_table")
        t.keys("P")
        screen = t.wait_screen(rf"^\s+{a.pid}\s+prefork\s+8\.0 MiB")
        assert re.search(rf"^\s+{b.pid}\s+prefork\s+0 B", screen, re.M), screen
        t.keys("P")
        t.wait_screen(r"^\s+1 .*build_table")
    finally:
        t.close()
