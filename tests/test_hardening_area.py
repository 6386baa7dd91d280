"""Issue 9, the area's disk and files: a full area disk, mt-init paths, config size and
include caps. Each test here failed (traceback, hang or half-made files) before its fix."""
import errno
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import mt, write_area
from megatest.config.area import Area
from megatest.store import db

T = {"t": "[ezsteps]\ns echo hi\n"}


@pytest.fixture
def tmpfs(tmp_path):
    """mount(path): a 1 MB tmpfs at path (root only; skipped otherwise), unmounted after."""
    mounted = []

    def mount(path, size="1m"):
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        path.mkdir(parents=True, exist_ok=True)
        out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True, text=True)
        if out.returncode:
            pytest.skip(f"cannot mount a tmpfs: {out.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", str(path)], check=False)


def fill(directory):
    """Write directory/filler until the disk is full."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as err:
        assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)


def remount(path, mode):
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def shared_runs(area):
    conn = sqlite3.connect(f"file:{area / 'megatest.db'}?mode=ro", uri=True)
    try:
        return sorted(r[0] for r in conn.execute("SELECT runname FROM runs"))
    finally:
        conn.close()


def assert_one_clean_line(out, prog, *words):
    """One `prog: error: ...` line holding words, and no traceback."""
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), out.stderr
    for word in words:
        assert word in lines[0], out.stderr


@pytest.fixture
def area_on_tmpfs(tmp_path, tmpfs):
    """An area (megatest.db) on a 1 MB tmpfs with one run synced; run directories and the
    live db on the normal disk."""
    return _area_in(tmpfs(tmp_path / "area"), tmp_path)


def _area_in(area, tmp_path):
    (tmp_path / "runs").mkdir()
    (area / "disk0").symlink_to(tmp_path / "runs")
    return write_area(area, T)


@pytest.fixture
def area_to_make_read_only(tmp_path, tmpfs):
    """(area, read_only(on)): an area and a switch making its disk read-only or writable again.
    As root, which ignores file modes, area_on_tmpfs remounted ro/rw; otherwise an area on the
    normal disk whose directory and megatest.db lose (and get back) their write bits."""
    if os.geteuid() == 0:
        area = _area_in(tmpfs(tmp_path / "area"), tmp_path)
        return area, lambda on: remount(area, "ro" if on else "rw")
    (tmp_path / "area").mkdir()
    area = _area_in(tmp_path / "area", tmp_path)

    def read_only(on):
        for path in (area, area / "megatest.db"):
            os.chmod(path, os.stat(path).st_mode & ~0o222 if on else os.stat(path).st_mode | 0o200)
    return area, read_only


# ---------------------------------------------------------------- full area disk (sync)

def test_full_area_disk_warns_and_the_run_still_passes_then_sync_catches_up(area_on_tmpfs, mt_env):
    area = area_on_tmpfs
    assert mt("run", "--area", area, "--target", "a/b", "--runname", "r1", "--quiet",
              env=mt_env).returncode == 0
    fill(area)
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r2", "--quiet", env=mt_env)
    assert out.returncode == 0, out.stdout + out.stderr                   # the test passed
    assert "Traceback" not in out.stderr and "Exception in thread" not in out.stderr
    assert f"{area / 'megatest.db'} is behind the live database" in out.stderr
    assert "no space left on device" in out.stderr
    assert shared_runs(area) == ["r1"]                    # the previous copy, whole

    out = mt("sync", "--area", area, "--once", env=mt_env)
    assert out.returncode == 1
    assert_one_clean_line(out, "mt-sync", str(area / "megatest.db"), "no space left on device")

    os.unlink(area / "filler")
    out = mt("sync", "--area", area, "--once", env=mt_env)
    assert out.returncode == 0 and out.stderr == ""
    assert shared_runs(area) == ["r1", "r2"]                 # caught up


def test_first_copy_on_a_full_disk_leaves_nothing_and_is_made_later(area_on_tmpfs, mt_env):
    area = area_on_tmpfs
    assert mt("run", "--area", area, "--target", "a/b", "--runname", "r1", "--quiet",
              env=mt_env).returncode == 0
    os.unlink(area / "megatest.db")
    fill(area)
    out = mt("sync", "--area", area, "--once", env=mt_env)
    assert out.returncode == 1
    assert_one_clean_line(out, "mt-sync", "no space left on device")
    assert sorted(p.name for p in area.iterdir() if "megatest.db" in p.name) == []
    os.unlink(area / "filler")
    assert mt("sync", "--area", area, "--once", env=mt_env).returncode == 0
    assert shared_runs(area) == ["r1"]


def test_syncing_for_a_while_on_a_full_disk_warns_once_not_every_pass(area_on_tmpfs, mt_env):
    area = area_on_tmpfs
    assert mt("run", "--area", area, "--target", "a/b", "--runname", "r1", "--quiet",
              env=mt_env).returncode == 0
    change_live_db(area, mt_env)
    fill(area)
    out = mt("sync", "--area", area, "--for", "2", "--interval", "0.5", env=mt_env)
    assert out.returncode == 1
    assert_one_clean_line(out, "mt-sync", "no space left on device")


def test_read_only_area_disk_is_a_clear_sync_failure(area_to_make_read_only, mt_env):
    area, read_only = area_to_make_read_only
    assert mt("run", "--area", area, "--target", "a/b", "--runname", "r1", "--quiet",
              env=mt_env).returncode == 0
    change_live_db(area, mt_env)
    read_only(True)
    try:
        out = mt("sync", "--area", area, "--once", env=mt_env)
    finally:
        read_only(False)
    assert out.returncode == 1
    assert_one_clean_line(out, "mt-sync", str(area / "megatest.db"), "readonly")
    assert mt("sync", "--area", area, "--once", env=mt_env).returncode == 0


def change_live_db(area, env):
    conn = db.connect(Area(str(area)).live_db_path(env))
    try:
        with db.transaction(conn):
            conn.execute("UPDATE tests SET comment='changed'")
    finally:
        conn.close()


# ---------------------------------------------------------------- mt-init paths

@pytest.mark.parametrize("where", ["file", "proc"])
def test_init_area_where_it_cannot_be_made_is_one_line(tmp_path, mt_env, where):
    (tmp_path / "afile").write_text("x")
    target = {"file": tmp_path / "afile" / "sub" / "area", "proc": "/proc/no-such/area"}[where]
    out = mt("init", "area", target, "--keys", "a/b", env=mt_env, cwd=tmp_path)
    assert out.returncode == 2
    named = {"file": f"{tmp_path / 'afile'}: not a directory",
             "proc": "/proc/no-such: no such file or directory"}[where]
    assert_one_clean_line(out, "mt-init", f"cannot create area {target}", named)
    assert (tmp_path / "afile").read_text() == "x"


def test_init_area_on_a_full_disk_creates_nothing(tmp_path, mt_env, tmpfs):
    disk = tmpfs(tmp_path / "full")
    fill(disk)
    out = mt("init", "area", disk / "new" / "area", "--keys", "a/b", env=mt_env)
    assert out.returncode == 2
    assert_one_clean_line(out, "mt-init", "runconfigs.config: no space left on device")
    assert sorted(p.name for p in disk.iterdir()) == ["filler"]


def test_init_test_on_a_full_disk_creates_nothing(tmp_path, mt_env, tmpfs):
    area = tmpfs(tmp_path / "area")
    assert mt("init", "area", area, "--keys", "a/b", env=mt_env).returncode == 0
    fill(area)
    out = mt("init", "test", "hello", "--area", area, env=mt_env)
    assert out.returncode == 2
    assert_one_clean_line(out, "mt-init", "cannot create test hello",
                          "testconfig: no space left on device")
    assert not (area / "tests" / "hello").exists()


def test_init_test_where_tests_is_a_file_is_one_line(tmp_path, mt_env):
    area = tmp_path / "area"
    assert mt("init", "area", area, "--keys", "a/b", env=mt_env).returncode == 0
    (area / "tests").rmdir()
    (area / "tests").write_text("")
    out = mt("init", "test", "hello", "--area", area, env=mt_env)
    assert out.returncode == 2
    assert_one_clean_line(out, "mt-init", f"{area / 'tests'}: not a directory")


# ---------------------------------------------------------------- config caps

def special_include(area, kind):
    """A path to include that is not a regular file: /dev/zero, a fifo or a directory."""
    if kind == "fifo":
        os.mkfifo(area / "fifo")
        return area / "fifo"
    if kind == "dir":
        (area / "adir").mkdir()
        return area / "adir"
    return "/dev/zero"


def assert_refused_at_last_line(area, env, what, *words):
    """Reading the area's megatest.config stops at its last line: one error line, exit 2."""
    line = len((area / "megatest.config").read_text().splitlines())
    out = mt("list", "tests", "--area", area, env=env, timeout=20)      # a hang would time out
    assert out.returncode == 2
    assert_one_clean_line(out, "mt-list", f"megatest.config:{line}: {what}", *words)


@pytest.mark.parametrize("kind", ["zero", "fifo", "dir"])
def test_include_of_a_non_regular_file_is_refused_at_its_line(make_area, mt_env, kind):
    area = make_area(T)
    path = special_include(area, kind)
    with open(area / "megatest.config", "a") as f:
        f.write(f"[include {path}]\n")
    reason = "Is a directory" if kind == "dir" else "not a regular file"
    assert_refused_at_last_line(area, mt_env, f"cannot read config file {path}", reason)


def test_too_large_include_is_refused_at_its_line_at_once(make_area, mt_env):
    area = make_area(T, config="[include big.config]\n")
    with open(area / "big.config", "wb") as f:
        f.truncate(17 * 1024 * 1024)                             # sparse: no disk used
    assert_refused_at_last_line(area, mt_env, "config file",
                                "big.config is too large (17.0 MB; the limit is 16 MB)")


def test_huge_megatest_config_is_refused_at_once(make_area, mt_env):
    area = make_area(T)
    os.truncate(area / "megatest.config", 70 * 1024 * 1024)
    start = time.time()
    out = mt("list", "tests", "--area", area, env=mt_env)
    assert time.time() - start < 5                                # was 12.9 s and 1.5 GB
    assert out.returncode == 2
    assert_one_clean_line(out, "mt-list", f"{area / 'megatest.config'}: config file",
                          "is too large (70.0 MB")


def include_chain(area, depth):
    """megatest.config includes inc0.config, which includes inc1.config ... depth files."""
    for i in range(depth):
        nested = f"[include inc{i + 1}.config]\n" if i + 1 < depth else ""
        (area / f"inc{i}.config").write_text(f"{nested}[setup]\nchain_end inc{i}\n")
    with open(area / "megatest.config", "a") as f:
        f.write("[include inc0.config]\n")


def test_deep_include_chain_is_refused_naming_the_chain(make_area, mt_env):
    area = make_area(T)
    include_chain(area, 200)
    out = mt("list", "tests", "--area", area, env=mt_env)
    assert out.returncode == 2
    # megatest.config and inc0 ... inc62 are 64 files: inc62's include of inc63 is refused
    assert_one_clean_line(out, "mt-list", "inc62.config:1: includes nested more than 64 deep: ",
                          f"{area / 'megatest.config'} -> {area / 'inc0.config'}",
                          f"{area / 'inc63.config'}")


def test_include_chain_within_the_cap_is_read(make_area, mt_env):
    area = make_area(T)
    include_chain(area, 63)
    out = mt("list", "tests", "--area", area, env=mt_env)
    assert out.returncode == 0, out.stderr


def test_scriptinc_printing_more_than_a_config_file_is_stopped_at_its_line(make_area, mt_env):
    area = make_area(T, config="[scriptinc flood.sh]\n")
    (area / "flood.sh").write_text("#!/bin/sh\nhead -c 20000000 /dev/zero | tr '\\0' x\n")
    (area / "flood.sh").chmod(0o755)
    assert_refused_at_last_line(area, mt_env, "scriptinc", "flood.sh printed more than 16 MB")


def test_init_area_force_over_a_directory_names_it(tmp_path, mt_env):
    area = tmp_path / "area"
    assert mt("init", "area", area, "--keys", "a/b", env=mt_env).returncode == 0
    (area / "megatest.config").unlink()
    (area / "megatest.config").mkdir()
    out = mt("init", "area", area, "--keys", "a/b", "--force", env=mt_env)
    assert out.returncode == 2
    assert_one_clean_line(out, "mt-init", f"{area / 'megatest.config'}: is a directory")
    assert not [p for p in area.iterdir() if p.name.startswith(".tmp-")]
