"""Factories shared by the tests: real areas on disk, real commands in subprocesses."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest_plugins = ["slurm_cluster", "sshd_server"]   # real Slurm and sshd, started on demand

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
sys.path.insert(0, str(REPO / "lib"))


@pytest.fixture
def mt_env(tmp_path):
    """A clean environment: live databases under tmp_path, the project's commands first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    env["MT_TMPDIR"] = str(tmp_path / "livedb")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    return env


def write_area(root, tests, config="", runconfigs="[default]\n", keys=("arch", "os"), max_jobs=4):
    """Write megatest.config, runconfigs.config and tests/<name>/testconfig under root."""
    root = Path(root)
    (root / "disk0").mkdir(parents=True, exist_ok=True)
    fields = "".join(f"{k} TEXT\n" for k in keys)
    text = (f"[fields]\n{fields}\n[setup]\nmax_concurrent_jobs {max_jobs}\n\n"
            f"[disks]\ndisk0 {root / 'disk0'}\n\n" + textwrap.dedent(config))
    (root / "megatest.config").write_text(text)
    (root / "runconfigs.config").write_text(textwrap.dedent(runconfigs))
    for name, body in tests.items():
        (root / "tests" / name).mkdir(parents=True, exist_ok=True)
        (root / "tests" / name / "testconfig").write_text(textwrap.dedent(body))
    return root


@pytest.fixture
def make_area(tmp_path):
    def factory(tests, **kw):
        return write_area(tmp_path / "area", tests, **kw)
    return factory


def mt(command, *args, env, cwd=None, timeout=120, input=None):
    """Run bin/mt-<command> for real; returns CompletedProcess with text output."""
    exe = BIN / f"mt-{command}"
    return subprocess.run([str(exe), *map(str, args)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, input=input)


def runs_json(area, env, *args):
    out = mt("list", "runs", "--area", area, "--json", *args, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def records(area, env, *args):
    """{'test' or 'test/item': test record} of the first run listed."""
    runs = runs_json(area, env, *args)
    assert runs, "no run recorded"
    return {t["testname"] + (f"/{t['item_path']}" if t["item_path"] else ""): t for t in runs[0]["tests"]}


def shared_rows(area, sql):
    """Rows of SQL run on the area's shared megatest.db (what other hosts see), read-only."""
    import sqlite3
    conn = sqlite3.connect(f"file:{area}/megatest.db?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def database_at(path, version):
    """An open connection to a new database file with the schema of the first VERSION
    migrations only, as an older release left it (autocommit)."""
    import sqlite3
    from megatest.store import schema
    conn = sqlite3.connect(str(path), isolation_level=None)
    for _, sql in schema.MIGRATIONS[:version]:
        for statement in schema._statements(sql):
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn
