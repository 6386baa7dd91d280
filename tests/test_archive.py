"""mt-clean --archive / --keep-runs / --restore (issue 11 §5): real areas, real runs, real
archives; kills simulated between the steps, a full and a read-only archive directory."""
import io
import os
import sqlite3
import subprocess
import tarfile
import time

import pytest

from conftest import BIN, database_at, mt, runs_json, shared_rows
from test_hardening_storage import mounts, read_only, tmpfs   # noqa: F401 (fixtures)
from megatest.config import settings as settings_mod
from megatest.config.area import Area
from megatest.run import archive
from megatest.store import archived, db, schema

TESTS = {
    "up": "[ezsteps]\ns1 echo up-output > out.txt; mkdir -p sub; echo nested > sub/f; "
          "ln -s out.txt inside-link\n",
    "down": "[requirements]\nwaiton up\n[items]\nV 1 2\n[ezsteps]\ns1 echo item $V > item.txt\n",
}


def run(area, env, runname="r", target="a/b", *args):
    return mt("run", "--area", area, "--target", target, "--runname", runname, "--quiet", *args, env=env)


def clean(area, env, *args):
    return mt("clean", "--area", area, *args, env=env)


def archive_cmd(area, env, directory, runname="r", *args):
    return clean(area, env, "--archive", directory, "--target", "a/b", "--runname", runname, *args)


def restore_cmd(area, env, runname="r"):
    return clean(area, env, "--restore", "--target", "a/b", "--runname", runname)


def tree(root):
    """{relative path: file content, or ('link', target)} of every file and link below root."""
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            found[rel] = ("link", os.readlink(path)) if os.path.islink(path) else open(path, "rb").read()
    return found


@pytest.fixture
def ran(make_area, mt_env, tmp_path):
    """An area with one finished run a/b/r (up, down/1, down/2) and an archive directory."""
    area = make_area(TESTS)
    assert run(area, mt_env).returncode == 0
    (tmp_path / "arch").mkdir()
    return area, mt_env, tmp_path / "arch"


def archive_file(directory):
    files = [f for f in os.listdir(directory) if not f.startswith(".")]
    assert len(files) == 1, files
    return directory / files[0]


def in_process(area, env, monkeypatch):
    """(conn, settings, run row) for calling the library as mt-clean does."""
    monkeypatch.setenv("MT_TMPDIR", env["MT_TMPDIR"])
    the_area = Area(str(area))
    settings = settings_mod.load_settings(the_area)
    conn = db.open_area_db(the_area)
    return conn, settings, db.find_run(conn, "a/b", "r")


class Killed(BaseException):
    """A kill -9 at this point: nothing after it runs, no handler sees it."""


def kill_at_rename(monkeypatch, n):
    """The Nth os.rename from now on is killed (the ones before it happen)."""
    real_rename, calls = os.rename, []

    def rename(src, dst):
        calls.append(src)
        if len(calls) == n:
            raise Killed()
        real_rename(src, dst)
    monkeypatch.setattr(os, "rename", rename)


# ---------------------------------------------------------------- archive and restore

def test_archive_keeps_records_removes_dirs_and_holds_the_files(ran):
    area, env, arch = ran
    before = tree(area / "disk0/a/b/r")
    out = archive_cmd(area, env, arch)
    assert out.returncode == 0, out.stderr
    path = archive_file(arch)
    assert path.name == f"{Area(str(area)).area_id}__a_b__r__1.tar.gz"
    assert out.stdout.startswith(f"a/b/r: archived 4 records (2 directories, ") and str(path) in out.stdout
    assert not (area / "disk0/a/b/r/up").exists() and not (area / "disk0/a/b/r/down").exists()
    assert not os.path.lexists(area / "lt/a/b/r/up") and not os.path.lexists(area / "lt/a/b/r/down")
    [listed] = runs_json(area, env)
    assert listed["archived"] == str(path)
    assert {(t["testname"], t["item_path"], t["state"], t["status"]) for t in listed["tests"]} == {
        ("up", "", "COMPLETED", "PASS"), ("down", "", "COMPLETED", "PASS"),
        ("down", "1", "COMPLETED", "PASS"), ("down", "2", "COMPLETED", "PASS")}
    text = mt("list", "runs", "--area", area, env=env).stdout
    assert f"archived in {path})" in text.splitlines()[0]
    with tarfile.open(path) as tar:
        names = set(tar.getnames())
        assert tar.extractfile("a/b/r/up/out.txt").read() == b"up-output\n"
        assert tar.extractfile("a/b/r/down/2/item.txt").read() == b"item 2\n"
    assert {f"a/b/r/{rel}" for rel in before} <= names
    # the mark reached megatest.db: every record points at the archive's row
    [(archive_id, state, stored)] = shared_rows(area, "SELECT id, state, archive_path FROM archives")
    assert (state, stored) == ("archived", str(path))
    assert {a for (a,) in shared_rows(area, "SELECT archived FROM tests")} == {archive_id}
    again = archive_cmd(area, env, arch)
    assert again.returncode == 0 and "already archived in" in again.stdout


def test_restore_brings_identical_files_and_links_back(ran):
    area, env, arch = ran
    before = tree(area / "disk0/a/b/r")
    link = os.readlink(area / "lt/a/b/r/up")
    assert archive_cmd(area, env, arch).returncode == 0
    out = restore_cmd(area, env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("a/b/r: restored 4 records (2 directories) from ")
    assert "the archive is kept" in out.stdout and archive_file(arch).exists()
    assert tree(area / "disk0/a/b/r") == before
    assert os.readlink(area / "lt/a/b/r/up") == link
    assert (area / "lt/a/b/r/down/1/item.txt").read_text() == "item 1\n"
    assert runs_json(area, env)[0]["archived"] == ""
    assert shared_rows(area, "SELECT DISTINCT archived FROM tests") == [(0,)]
    assert restore_cmd(area, env).stdout == "mt-clean: no archived run matches --target a/b --runname r\n"
    # archived again: a new file, the kept one is left alone
    assert archive_cmd(area, env, arch).returncode == 0
    assert sorted(os.listdir(arch))[0].endswith("__1-2.tar.gz")


def test_a_record_removed_after_archiving_stays_out_of_the_restore(ran):
    area, env, arch = ran
    assert archive_cmd(area, env, arch).returncode == 0
    assert clean(area, env, "--target", "a/b", "--runname", "r", "--testpatt", "up").returncode == 0
    out = restore_cmd(area, env)
    assert out.returncode == 0 and "restored 3 records (1 directory)" in out.stdout, out.stdout + out.stderr
    assert (area / "disk0/a/b/r/down/1/item.txt").exists() and not (area / "disk0/a/b/r/up").exists()


def test_testpatt_archives_a_test_with_its_items_or_single_items(ran):
    area, env, arch = ran
    out = archive_cmd(area, env, arch, "r", "--testpatt", "down/2")
    assert out.returncode == 0 and "archived 1 record (1 directory" in out.stdout, out.stdout
    assert not (area / "disk0/a/b/r/down/2").exists() and (area / "disk0/a/b/r/down/1").exists()
    assert os.path.islink(area / "lt/a/b/r/down")            # the test's link serves down/1
    assert restore_cmd(area, env).returncode == 0
    assert (area / "disk0/a/b/r/down/2/item.txt").read_text() == "item 2\n"
    out = archive_cmd(area, env, arch, "r", "--testpatt", "down")
    assert "archived 3 records (1 directory" in out.stdout, out.stdout
    assert (area / "disk0/a/b/r/up").exists() and not (area / "disk0/a/b/r/down").exists()


def test_a_symlink_pointing_outside_the_run_is_left_out_and_named(make_area, mt_env, tmp_path):
    area = make_area({"t": "[ezsteps]\ns1 ln -s /etc/hostname host; ln -s ../../../../../x far; "
                           "echo a > a; ln -s a near\n"})
    assert run(area, mt_env).returncode == 0
    (tmp_path / "arch").mkdir()
    out = archive_cmd(area, mt_env, tmp_path / "arch")
    assert out.returncode == 0, out.stderr
    assert "left out 2 symlinks pointing outside the run: a/b/r/t/far -> ../../../../../x, " \
           "a/b/r/t/host -> /etc/hostname" in out.stdout
    assert restore_cmd(area, mt_env).returncode == 0
    assert os.readlink(area / "disk0/a/b/r/t/near") == "a"
    assert not os.path.lexists(area / "disk0/a/b/r/t/host")


# ---------------------------------------------------------------- keep-runs

def test_keep_runs_archives_all_but_the_newest_n_per_target(make_area, mt_env, tmp_path):
    area = make_area({"t": "[ezsteps]\ns1 true\n"}, config="[archive]\nkeep-runs 2\n")
    for target in ("a/b", "c/d"):
        for n in range(1, 5 if target == "a/b" else 3):
            assert run(area, mt_env, f"r{n}", target).returncode == 0
            time.sleep(0.01)
    (tmp_path / "arch").mkdir()
    out = clean(area, mt_env, "--archive", tmp_path / "arch", "--keep-runs")
    assert out.returncode == 0, out.stderr
    assert [line.split(":")[0] for line in out.stdout.splitlines()] == ["a/b/r1", "a/b/r2"]
    archived_runs = {(r["target"], r["runname"]) for r in runs_json(area, mt_env) if r["archived"]}
    assert archived_runs == {("a/b", "r1"), ("a/b", "r2")}
    assert (area / "disk0/a/b/r3/t").exists() and (area / "disk0/c/d/r1/t").exists()
    again = clean(area, mt_env, "--archive", tmp_path / "arch", "--keep-runs")
    assert again.stdout == ("mt-clean: nothing to archive: [archive] keep-runs 2 keeps the newest "
                            "2 runs of each target\n")
    assert run(area, mt_env, "r5", "a/b").returncode == 0
    out = clean(area, mt_env, "--archive", tmp_path / "arch", "--keep-runs", "--target", "a/%")
    assert [line.split(":")[0] for line in out.stdout.splitlines()] == ["a/b/r3"]


def test_keep_runs_needs_the_setting(ran):
    area, env, arch = ran
    out = clean(area, env, "--archive", arch, "--keep-runs")
    assert out.returncode == 2 and "needs `keep-runs N` in an [archive] section" in out.stderr
    with open(area / "megatest.config", "a") as f:
        f.write("[archive]\nkeep-runs many\n")
    out = clean(area, env, "--archive", arch, "--keep-runs")
    assert out.returncode == 2 and "megatest.config:" in out.stderr and "'many'" in out.stderr


# ---------------------------------------------------------------- skipped runs

def test_a_running_run_is_skipped(make_area, mt_env, tmp_path):
    area = make_area({"slow": "[ezsteps]\ns1 sleep 60\n"})
    p = subprocess.Popen([str(BIN / "mt-run"), "--area", str(area), "--target", "a/b", "--runname", "r",
                          "--quiet"], env=mt_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while not (area / "disk0/a/b/r/slow/.mt-steps").exists() and time.time() < deadline:
            time.sleep(0.05)
        (tmp_path / "arch").mkdir()
        out = archive_cmd(area, mt_env, tmp_path / "arch")
        assert out.returncode == 1
        assert out.stderr == ("mt-clean: error: a/b/r: not archived: slow is RUNNING "
                              "(only finished runs are archived)\n")
        assert os.listdir(tmp_path / "arch") == [] and (area / "disk0/a/b/r/slow").exists()
    finally:
        clean(area, mt_env, "--kill", "--target", "a/b", "--runname", "r")
        p.wait(timeout=30)


def test_a_locked_run_is_skipped(ran):
    area, env, arch = ran
    assert clean(area, env, "--lock", "--target", "a/b", "--runname", "r").returncode == 0
    out = archive_cmd(area, env, arch)
    assert out.returncode == 0
    assert out.stdout == "a/b/r: locked, skipped (mt-clean --unlock to allow archiving)\n"
    assert os.listdir(arch) == [] and (area / "disk0/a/b/r/up").exists()


# ---------------------------------------------------------------- bad archive directories

def untouched(area, env, arch):
    assert [f for f in os.listdir(arch) if f != "lost+found"] == []    # no temp file either
    assert (area / "disk0/a/b/r/up/out.txt").exists() and os.path.islink(area / "lt/a/b/r/up")
    assert runs_json(area, env)[0]["archived"] == ""
    assert shared_rows(area, "SELECT DISTINCT archived FROM tests") == [(0,)]


def test_a_missing_or_unwritable_archive_dir_is_one_line_exit_2(ran, read_only):
    area, env, arch = ran
    out = archive_cmd(area, env, arch / "nope")
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr.splitlines()[0] == f"mt-clean: error: archive directory {arch / 'nope'} does not exist"
    ro = read_only(arch / "ro")
    out = archive_cmd(area, env, ro)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"mt-clean: error: archive directory {ro} is not writable\n"
    untouched(area, env, ro)


def test_a_full_archive_dir_leaves_everything_as_it_was(make_area, mt_env, tmp_path, mounts):
    area = make_area({"big": "[ezsteps]\ns1 head -c 3000000 /dev/urandom > data.bin\n",
                      "up": TESTS["up"]})
    assert run(area, mt_env).returncode == 0
    full = tmpfs(mounts, tmp_path / "full", size="1m")
    out = archive_cmd(area, mt_env, full)
    assert (out.returncode, out.stdout) == (1, "")
    assert out.stderr.splitlines() == [
        f"mt-clean: error: a/b/r: not archived: cannot write {full}/{Area(str(area)).area_id}"
        "__a_b__r__1.tar.gz: No space left on device; nothing was changed"]
    untouched(area, mt_env, full)
    assert (area / "disk0/a/b/r/big/data.bin").stat().st_size == 3000000


# ---------------------------------------------------------------- restore refuses

def test_restore_refuses_a_non_empty_destination(ran):
    area, env, arch = ran
    assert archive_cmd(area, env, arch).returncode == 0
    (area / "disk0/a/b/r/up").mkdir()
    (area / "disk0/a/b/r/up/mine").write_text("keep me")
    out = restore_cmd(area, env)
    assert out.returncode == 1
    assert out.stderr == (f"mt-clean: error: a/b/r: not restored: {area}/disk0/a/b/r/up exists and "
                          "is not empty (move it aside, then restore again)\n")
    assert not (area / "disk0/a/b/r/down").exists()             # nothing unpacked
    assert runs_json(area, env)[0]["archived"]
    (area / "disk0/a/b/r/up/mine").unlink()                      # an empty one is taken
    assert restore_cmd(area, env).returncode == 0
    assert (area / "disk0/a/b/r/up/out.txt").read_text() == "up-output\n"


def malicious(path, *members):
    """Rewrite the archive at path with extra members (TarInfo, bytes or None)."""
    with tarfile.open(path) as tar:
        good = [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]
    with tarfile.open(path, "w:gz") as tar:
        for info, data in good + list(members):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def member(name, data=None, link=None, kind=tarfile.REGTYPE):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE if link is not None and kind == tarfile.REGTYPE else kind
    if link is not None:
        info.linkname = link
    if data is not None:
        info.size = len(data)
    return info, data


@pytest.mark.parametrize("extra, reason", [
    ([member("a/b/r/up/../../../../../evil", b"x")], "has an absolute path or '..'"),
    ([member("/tmp/evil-abs", b"x")], "has an absolute path or '..'"),
    ([member("a/b/r/other/evil", b"x")], "lies outside the archived directories"),
    ([member("a/b/r/up/esc", link="/etc")], "points outside the run (/etc)"),
    ([member("a/b/r/up/esc", link="../../../../..")], "points outside the run"),
    ([member("a/b/r/up/hard", link="/etc/passwd", kind=tarfile.LNKTYPE)], "hard link"),
    ([member("a/b/r/up/fifo", kind=tarfile.FIFOTYPE)], "is not a file, directory or link"),
    ([member("a/b/r/up/in", link="sub"), member("a/b/r/up/in/x", b"x")], "lies under the symlink"),
])
def test_restore_refuses_a_malicious_member(ran, extra, reason, tmp_path):
    area, env, arch = ran
    assert archive_cmd(area, env, arch).returncode == 0
    malicious(archive_file(arch), *extra)
    out = restore_cmd(area, env)
    assert out.returncode == 1, out.stdout
    assert out.stderr.startswith(f"mt-clean: error: a/b/r: not restored: {archive_file(arch)}: ")
    assert reason in out.stderr and len(out.stderr.splitlines()) == 1
    assert not (area / "disk0/a/b/r/up").exists() and not (area / "disk0/a/b/other").exists()
    assert not os.path.exists("/tmp/evil-abs") and not (area / "disk0/evil").exists()
    assert runs_json(area, env)[0]["archived"] == str(archive_file(arch))


def test_links_inside_the_run_pass_the_checks():
    """Our checks come first; where Python has tarfile's data filter it is used as well."""
    assert archive.EXTRACT_FILTER == ({"filter": "data"} if hasattr(tarfile, "data_filter") else {})
    escape, _ = member("a/b/r/t/x", link="../../../../../etc")
    assert "points outside the run" in archive.check_members([escape], ["a/b/r/t"], "a/b/r")
    ok, _ = member("a/b/r/t/x", link="../u/f")
    assert archive.check_members([ok], ["a/b/r/t"], "a/b/r") is None


# ---------------------------------------------------------------- kills

def test_a_kill_during_the_write_leaves_no_archive_and_a_rerun_completes(ran):
    area, env, arch = ran
    name = f"{Area(str(area)).area_id}__a_b__r__1.tar.gz"
    (arch / f".{name}.tmp-abc123").write_bytes(b"half an archive")     # what kill -9 leaves
    assert runs_json(area, env)[0]["archived"] == ""
    out = archive_cmd(area, env, arch)
    assert out.returncode == 0, out.stderr
    assert os.listdir(arch) == [name]                                    # the temp file is gone


def test_a_kill_before_the_mark_writes_the_archive_again(ran, monkeypatch):
    area, env, arch = ran
    conn, settings, row = in_process(area, env, monkeypatch)

    def killed(*args, **kw):
        raise Killed()
    monkeypatch.setattr(archived, "add_archive", killed)
    with pytest.raises(Killed):
        archive.archive_run(conn, settings.area, row, str(arch), "%", "here")
    assert archive_file(arch).exists() and (area / "disk0/a/b/r/up").exists()
    assert runs_json(area, env)[0]["archived"] == ""
    monkeypatch.undo()
    out = archive_cmd(area, env, arch)
    assert out.returncode == 0 and "archived 4 records" in out.stdout, out.stdout + out.stderr
    assert len(os.listdir(arch)) == 1 and not (area / "disk0/a/b/r/up").exists()


def test_a_kill_while_removing_is_finished_by_a_rerun(ran, monkeypatch):
    area, env, arch = ran
    before = tree(area / "disk0/a/b/r")
    conn, settings, row = in_process(area, env, monkeypatch)
    kill_at_rename(monkeypatch, 2)
    with pytest.raises(Killed):
        archive.archive_run(conn, settings.area, row, str(arch), "%", "here")
    monkeypatch.undo()
    # marked, one directory gone, the other whole
    assert runs_json(area, env)[0]["archived"] == str(archive_file(arch))
    assert not (area / "disk0/a/b/r/down").exists() and (area / "disk0/a/b/r/up/out.txt").exists()
    out = archive_cmd(area, env, arch)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (f"a/b/r: finished archiving in {archive_file(arch)} (removed 1 directory "
                          "left by an interrupted run)\n")
    assert sorted(os.listdir(area / "disk0/a/b/r")) == [] and not os.path.lexists(area / "lt/a/b/r/up")
    assert shared_rows(area, "SELECT state FROM archives") == [("archived",)]
    assert restore_cmd(area, env).returncode == 0
    assert tree(area / "disk0/a/b/r") == before


def test_a_kill_while_restoring_is_finished_by_a_rerun(ran, monkeypatch):
    area, env, arch = ran
    before = tree(area / "disk0/a/b/r")
    assert archive_cmd(area, env, arch).returncode == 0
    conn, settings, row = in_process(area, env, monkeypatch)
    kill_at_rename(monkeypatch, 2)
    with pytest.raises(Killed):
        archive.restore_run(conn, row)
    monkeypatch.undo()
    assert (area / "disk0/a/b/r/down").exists() and not (area / "disk0/a/b/r/up").exists()
    assert archived.active_archive(conn, row["id"])["state"] == "restoring"
    out = archive_cmd(area, env, arch)                 # archiving waits for the restore
    assert out.returncode == 1 and "run mt-clean --restore again" in out.stderr
    out = restore_cmd(area, env)
    assert out.returncode == 0 and "restored 4 records (1 directory)" in out.stdout, out.stdout
    assert tree(area / "disk0/a/b/r") == before
    assert [n for n in os.listdir(area / "disk0/a/b/r") if n.startswith(".")] == []


# ---------------------------------------------------------------- the migration

def test_the_migration_keeps_an_existing_database(tmp_path):
    """A database made before 004-archive (version 2) keeps its rows and gains the table; a
    shared copy that old still rebuilds a live database."""
    conn = database_at(tmp_path / "old.db", 2)
    conn.row_factory = sqlite3.Row
    conn.execute("INSERT INTO runs (target, runname) VALUES ('a/b', 'r')")
    conn.execute("INSERT INTO tests (run_id, testname) VALUES (1, 't')")
    schema.ensure(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.VERSION
    assert [tuple(r) for r in conn.execute("SELECT testname, archived FROM tests")] == [("t", 0)]
    assert archived.archive_paths(conn) == {} and archived.active_archive(conn, 1) is None
    with db.transaction(conn):
        archive_id = archived.add_archive(conn, 1, "/x.tar.gz", [1], 10)
    assert archived.archive_paths(conn) == {1: "/x.tar.gz"}
    assert conn.execute("SELECT archived FROM tests").fetchone()[0] == archive_id
    assert conn.execute("SELECT seq FROM archives").fetchone()[0] > 0     # synced like the rest
    old = database_at(tmp_path / "v2.db", 2)
    schema.drop_triggers(old)                       # as the syncer writes megatest.db
    old.close()
    db._restore_from_shared(str(tmp_path / "v2.db"), str(tmp_path / "live.db"))
    live = db.connect(str(tmp_path / "live.db"))
    schema.ensure(live)
    assert archived.archive_paths(live) == {}


def test_mt_run_refuses_to_run_archived_records_again_until_restored(ran):
    area, env, arch = ran
    assert archive_cmd(area, env, arch).returncode == 0
    before = runs_json(area, env)
    again = run(area, env, "r", "a/b", "--rerun-all")
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.splitlines() == [
        f"mt-run: error: run a/b/r is archived in {archive_file(arch)}: 4 of the selected "
        "records have their directories there",
        "  try: mt-clean --restore --target a/b --runname r   (then run it again), or use a "
        "new run name"]
    assert runs_json(area, env) == before             # nothing reset, nothing relaunched
    assert run(area, env, "r2").returncode == 0       # another run name is not concerned
    assert restore_cmd(area, env).returncode == 0
    assert run(area, env, "r", "a/b", "--rerun-all").returncode == 0
