"""The docs follow the commands: every bin/mt-* has --help and a section in README.md."""
import re
import subprocess

import pytest

from conftest import BIN, REPO

COMMANDS = sorted(p.name for p in (REPO / "bin").iterdir()
                  if p.name.startswith("mt-") or p.name in ("megatest", "logpro"))
README = REPO / "README.md"


def headings():
    return [line for line in README.read_text().splitlines() if re.match(r"#{1,6} ", line)]


def test_commands_found():
    assert {"mt-run", "mt-list", "mt-test", "mt-init", "megatest", "logpro"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_exits_0_with_usage(command, mt_env):
    out = subprocess.run([str(BIN / command), "--help"], env=mt_env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    usage = out.stdout.split("Usage:", 1)
    assert len(usage) == 2, f"{command} --help has no Usage: section"
    assert re.search(rf"^\s+{command} ", usage[1], re.M), f"no `{command} ...` usage line"


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_has_a_section(command):
    assert any(re.search(rf"\b{re.escape(command)}\b", h) for h in headings()), \
        f"README.md has no heading naming {command}"


def test_readme_quick_start_is_two_commands():
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```\w*\n(.*?)```", section, re.S)
    commands = [line for b in blocks for line in b.splitlines() if line.strip()]
    assert commands == ["make demo", "make test"]
