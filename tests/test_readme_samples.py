"""The README's example transcripts, run for real so that they stay in step with the commands.

A transcript is a fenced block whose lines start with `$ `: each such line is a command, the
lines below it (up to the next `$ ` line) are its output as a user sees it, standard output
and standard error together. A block is checked when the line right before its fence is

    <!-- checked sample -->
    <!-- checked sample: cwd=examples/demo setup=NAME[,NAME...] -->

(an HTML comment: GitHub does not show it). The checked blocks run in document order, each
as one bash script (so `cd` and `export` hold up to the block's end), in one temporary
checkout: a copy of examples/demo without generated files, its disk directory made (as
`make demo` leaves it), and `.venv` linked to this one. A block starts in that checkout's
top directory, or in `cwd=` below it; `setup=` names preparations from SETUPS below, done
before the block's first command. Commands find the project's commands first on PATH, and
no MT_* variable of the caller except MT_TMPDIR, which points into the temporary directory.

Matching, README line against output line, after trailing blanks are dropped on both sides:
  * a line that is exactly `...` matches zero or more lines;
  * `...` inside a line matches any text (host names, users, absolute paths, pids, epochs);
  * durations (`0.7s`, `0s`, `75 ms`) and clock times (`07:57:26`) are normalised on both
    sides. Everything else (counts, states, statuses, names, wording) must be equal.
  (mt-sync's `mark` is shown as `...`: it numbers the live database's changes, and how many
  a run makes depends on the timing of the runner's passes.)

The samples share one area, in document order: the megatest example runs and removes its own
run name (`weekly`), so that mt-run's example starts `nightly` afresh.

Blocks left unchecked, because they cannot run here as written (UNCHECKED lists them by their
first command; test_every_transcript_is_checked_or_listed keeps the list true):
  * `mt-serve --ensure --area /proj/regress`: a server for an area at /proj/regress; its
    `--status` output is the host, address, port, pid and uptime of that server, all of
    them specific to the machine.
  * `mt-serve --view --area /proj/regress --port 8080`: a viewer of that area, in the
    foreground until stopped; its line names this machine's address and copy.
"""
import functools
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field

import pytest

from conftest import BIN, REPO
from test_cram import command_env, demo_copy

README = REPO / "README.md"
MARKER = re.compile(r"<!-- checked sample(?::(?P<options>[^>]*?))? -->")
UNCHECKED = {
    "mt-serve --ensure --area /proj/regress": "an area at /proj/regress; a machine's server",
    "mt-serve --view --area /proj/regress --port 8080": "an area at /proj/regress; runs "
                                                        "until stopped",
}
BLOCK_SECONDS = 120         # a hung command fails its block instead of hanging the tests
SEPARATOR = "@@readme-sample-{}@@"


@dataclass
class Command:
    line: int               # of the `$ ` line in README.md
    text: str
    expected: list = field(default_factory=list)


@dataclass
class Block:
    line: int               # of the opening fence
    commands: list
    checked: bool
    cwd: str = "."
    setups: tuple = ()


def transcripts(text):
    """Every fenced block holding `$ ` lines, with its marker's options."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if not lines[i].lstrip().startswith("```"):
            i += 1
            continue
        start, body, i = i, [], i + 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        commands = []
        for number, line in body:
            if line.startswith("$ "):
                commands.append(Command(number, line[2:]))
            elif commands:
                commands[-1].expected.append(line)
        if not commands:
            continue
        marker = MARKER.fullmatch(lines[start - 1].strip()) if start else None
        block = Block(start + 1, commands, checked=marker is not None)
        for word in (marker.group("options") or "").split() if marker else ():
            key, _, value = word.partition("=")
            if key == "cwd":
                block.cwd = value
            elif key == "setup":
                block.setups = tuple(value.split(","))
            else:
                raise ValueError(f"README.md:{start}: unknown marker option {word!r}")
        blocks.append(block)
    return blocks


# ---- matching -------------------------------------------------------------------------------

DURATION = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?:s| ?ms)\b")
CLOCK = re.compile(r"\b\d\d:\d\d:\d\d\b")


def normalise(line):
    return DURATION.sub("<duration>", CLOCK.sub("<clock>", line.rstrip()))


def line_matcher(expected):
    return re.compile(".*".join(re.escape(part) for part in normalise(expected).split("...")))


def matches(expected, actual):
    """True when the README's lines describe the output lines (see the module's docstring)."""
    patterns = [None if line == "..." else line_matcher(line) for line in expected]
    actual = [normalise(line) for line in actual]

    @functools.lru_cache(maxsize=None)
    def match(i, j):
        if i == len(patterns):
            return j == len(actual)
        if patterns[i] is None:
            return match(i + 1, j) or (j < len(actual) and match(i, j + 1))
        return j < len(actual) and bool(patterns[i].fullmatch(actual[j])) and match(i + 1, j + 1)

    return match(0, 0)


def test_matcher_is_strict_but_for_ellipses_durations_and_clock_times():
    assert matches(["run r: 15 tests and items in 1.8s: 1 FAIL"], ["run r: 15 tests and items in 0.4s: 1 FAIL"])
    assert not matches(["run r: 15 tests and items in 1.8s"], ["run r: 16 tests and items in 1.8s"])
    assert matches(["07:57:26 full copy, 75 ms"], ["19:11:46 full copy, 3 ms  "])
    assert matches(["a", "...", "z"], ["a", "z"]) and matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert not matches(["a", "...", "z"], ["a", "b"])
    assert matches(["log: .../lint/style.log"], ["log: /tmp/x/lint/style.log"])
    assert not matches(["log: .../lint/style.log"], ["log: /tmp/x/lint/style.log extra"])
    assert not matches(["PASS"], ["PASS", "FAIL"]) and not matches([], ["output"])


# ---- running --------------------------------------------------------------------------------

def mt(root, env, *args, timeout=60):
    """A project command run for a setup, output and errors together."""
    return subprocess.run([str(BIN / args[0]), *map(str, args[1:])], cwd=root, env=env,
                          timeout=timeout, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)


def setup_earlier_nightly(root, env):
    """A finished run linux/x86_64/nightly-2026-11-01 of the demo, for mt-clean's pattern."""
    out = mt(root, env, "mt-run", "--area", "examples/demo", "--target", "linux/x86_64",
             "--runname", "nightly-2026-11-01", "--quiet")
    assert out.returncode == 1, out.stdout          # the demo's lint fails on purpose


def setup_long_tests_running(root, env):
    """Two long tests (longsim, longsynth) added to the demo and running in the background
    as part of linux/x86_64/nightly, for mt-clean --kill."""
    area = root / "examples" / "demo"
    for name in ("longsim", "longsynth"):
        (area / "tests" / name).mkdir()
        (area / "tests" / name / "testconfig").write_text("[ezsteps]\nwait sleep 50\n")
    out = mt(root, env, "mt-run", "--area", area, "--target", "linux/x86_64", "--runname", "nightly",
             "--testpatt", "long%", "--no-wait")
    assert out.returncode == 0, out.stdout
    deadline = time.monotonic() + 30
    while True:
        out = mt(root, env, "mt-list", "runs", "--area", area, "--runname", "nightly",
                 "--testpatt", "long%", "--state", "RUNNING")
        if out.stdout.count(" RUNNING ") == 2:
            return
        assert time.monotonic() < deadline, f"the long tests did not start:\n{out.stdout}"
        time.sleep(0.1)


def setup_shared_copy_lost(root, env):
    """The area's shared megatest.db is gone (say, a restore without it): mt-sync copies all."""
    (root / "examples" / "demo" / "megatest.db").unlink()


SETUPS = {
    "nightly-2026-11-01": setup_earlier_nightly,
    "long-tests-running": setup_long_tests_running,
    "shared-copy-lost": setup_shared_copy_lost,
}


def run_block(block, root, env):
    """Run the block's commands in one bash; returns each command's output lines."""
    script = ["exec 2>&1"]
    for n, command in enumerate(block.commands):
        script += [f"printf '\\n%s\\n' '{SEPARATOR.format(n)}'", command.text]
    proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-c", "\n".join(script)],
                            cwd=root / block.cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=BLOCK_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        output += f"\n[the block was stopped after {BLOCK_SECONDS}s]"
    parts = re.split(r"\n?" + SEPARATOR.format(r"\d+") + r"\n", output)
    assert parts[0] == "" and len(parts) == len(block.commands) + 1, output
    return [part.splitlines() for part in parts[1:]]


BLOCKS = transcripts(README.read_text())
CHECKED = [(block, command) for block in BLOCKS if block.checked for command in block.commands]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """Every checked block run in document order: {README line of a command: its output lines}."""
    tmp = tmp_path_factory.mktemp("readme")
    root = demo_copy(tmp).parent                  # tmp/examples/demo, as in a checkout
    (root / "examples" / "demo" / "runs").mkdir()
    (root / ".venv").symlink_to(BIN.parent)
    env = command_env(tmp)
    results = {}
    for block in BLOCKS:
        if not block.checked:
            continue
        for name in block.setups:
            SETUPS[name](root, env)
        for command, lines in zip(block.commands, run_block(block, root, env)):
            results[command.line] = lines
    return results


def test_every_transcript_is_checked_or_listed():
    unchecked = {b.commands[0].text: b.line for b in BLOCKS if not b.checked}
    for text, line in unchecked.items():
        assert text in UNCHECKED, (f"README.md:{line}: `$ {text}` is neither marked "
                                   "<!-- checked sample --> nor listed in UNCHECKED")
    assert set(UNCHECKED) <= set(unchecked), "UNCHECKED names a transcript README.md no longer has"
    assert len(CHECKED) >= 15, "the README's samples are no longer found"
    for block in BLOCKS:
        assert set(block.setups) <= set(SETUPS), f"README.md:{block.line}: unknown setup"


@pytest.mark.parametrize("block, command", CHECKED, ids=[f"README.md:{c.line}" for _, c in CHECKED])
def test_sample(block, command, outputs):
    actual = outputs[command.line]
    if not matches(command.expected, actual):
        pytest.fail(f"README.md:{command.line}: `$ {command.text}` printed\n"
                    + "".join(f"    {line}\n" for line in actual)
                    + "where README.md shows\n"
                    + "".join(f"    {line}\n" for line in command.expected), pytrace=False)
