"""The cram transcripts (cramtests/NNN-name.t) and the bundled demo, run from pytest.

Each transcript is one pytest test, so every result counts in pytest's summary. A
transcript runs from a copy in tmp_path: cram writes NAME.t.err beside a failing
transcript, and the repository must stay clean.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import BIN, REPO

CRAMTESTS = sorted((REPO / "cramtests").glob("*.t"))
DEMO_GENERATED = ("runs", "lt", "megatest.db", ".mt", "logs", "reports")
DEMO_SECONDS = 20          # the budget for the whole demo


def command_env(tmp_path):
    """The caller's environment minus MT_* (a test's identity must not leak in), commands first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    env["MT_TMPDIR"] = str(tmp_path / "livedb")
    env["TMPDIR"] = str(tmp_path)          # cram makes its $CRAMTMP here
    return env


def test_every_transcript_is_numbered():
    assert CRAMTESTS, "no cramtests/*.t found"
    for path in CRAMTESTS:
        assert re.fullmatch(r"\d{3}-[a-z0-9-]+\.t", path.name), path.name


@pytest.mark.parametrize("transcript", CRAMTESTS, ids=lambda p: p.name)
def test_cram(transcript, tmp_path):
    copy = tmp_path / transcript.name
    shutil.copyfile(transcript, copy)
    out = subprocess.run([str(BIN / "cram"), "--indent=2", str(copy)], cwd=tmp_path,
                         env=command_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"cram {transcript.name} failed:\n{out.stdout}{out.stderr}"
    if "# Ran 1 tests, 1 skipped," in out.stdout:      # a command exited 80: cram's skip
        pytest.skip(skip_reason(transcript))


def skip_reason(transcript):
    """Why a transcript skips itself: its `... || exit 80` guard, named (cram reports a skip
    with no reason, and counts nothing of the transcript then, not even the lines before)."""
    guards = [line.strip()[2:] for line in transcript.read_text().splitlines()
              if line.lstrip().startswith("$ ") and "exit 80" in line]
    needs = " (needs root)" if any("id -u" in g for g in guards) and os.geteuid() != 0 else ""
    return f"cram skipped {transcript.name}{needs} at: {' / '.join(guards) or 'exit 80'}"


def demo_copy(tmp_path):
    """examples/run-demo and examples/demo copied elsewhere, without generated files."""
    examples = tmp_path / "examples"
    shutil.copytree(REPO / "examples" / "demo", examples / "demo",
                    ignore=shutil.ignore_patterns(*DEMO_GENERATED))
    shutil.copy2(REPO / "examples" / "run-demo", examples / "run-demo")
    return examples


def run_demo(examples, tmp_path, *args):
    return subprocess.run([str(examples / "run-demo"), *args], env=command_env(tmp_path),
                          capture_output=True, text=True, timeout=120)


def test_demo_runs_and_shows_the_intended_failures(tmp_path):
    examples = demo_copy(tmp_path)
    start = time.monotonic()
    out = run_demo(examples, tmp_path)
    elapsed = time.monotonic() - start
    assert out.returncode == 0, out.stdout + out.stderr
    table = out.stdout.split("== mt-list runs", 1)[1]
    for status in ("PASS", "FAIL", "PREQ_FAIL"):
        assert re.search(rf"\s{status}\s", table), f"no {status} in the results table:\n{table}"
    assert re.search(r"^\s+lint\s+COMPLETED\s+FAIL\b", table, re.M), table
    assert re.search(r"^\s+release\s+NOT_STARTED\s+PREQ_FAIL\b", table, re.M), table
    assert "Demo OK" in out.stdout
    assert elapsed < DEMO_SECONDS, f"the demo took {elapsed:.1f}s"


def test_demo_is_rerunnable_and_catches_unexpected_failures(tmp_path):
    examples = demo_copy(tmp_path)
    first = run_demo(examples, tmp_path, "again")
    assert first.returncode == 0, first.stdout + first.stderr
    # The same run name again relaunches everything (--rerun-all), so a fixed lint shows at
    # once, and run-demo reports both records that no longer fail as they should.
    (examples / "demo" / "tests" / "lint" / "sources.txt").write_text("calc: add, mul and vol.\n")
    second = run_demo(examples, tmp_path, "again")
    assert second.returncode == 1, second.stdout + second.stderr
    assert "unexpected result: lint: COMPLETED/PASS (expected FAIL)" in second.stderr
    assert "unexpected result: release: COMPLETED/PASS (expected PREQ_FAIL)" in second.stderr
