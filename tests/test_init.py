"""mt-init end to end: the generated area and tests parse, and run as they are."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from megatest.config.area import Area
from megatest.config.settings import load_settings
from megatest.config.testdefs import load_testdef

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / ".venv" / "bin"
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


@pytest.fixture
def env(tmp_path):
    """The project's commands first on PATH, live databases under tmp_path, nothing else MT_*."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MT_")}
    environ["PATH"] = f"{BIN}{os.pathsep}{environ.get('PATH', SYSTEM_PATH)}"
    environ["MT_TMPDIR"] = str(tmp_path / "livedb")
    environ["USER"] = "alice"
    return environ


def mt(command, *args, env, cwd=None):
    exe = shutil.which(f"mt-{command}", path=env["PATH"])
    assert exe and exe.startswith(str(BIN)), f"mt-{command} not found in {BIN}"
    return subprocess.run([exe, *map(str, args)], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def ok(command, *args, env, cwd=None):
    out = mt(command, *args, env=env, cwd=cwd)
    assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.fixture
def area(tmp_path, env):
    top = tmp_path / "area"
    ok("init", "area", top, "--keys", "arch/os", env=env)
    return top


def load_def(top, name, environ=None):
    a = Area(str(top.resolve()))
    return load_testdef(name, str(top / "tests" / name), a, environ or {}, {})


# ---------------------------------------------------------------- area

def test_area_writes_a_config_that_loads(area):
    settings = load_settings(Area(str(area)), environ={})
    assert settings.keys == ["arch", "os"]
    assert settings.max_jobs == (os.cpu_count() or 1)
    assert settings.linktree == str(area / "lt")
    assert settings.disks == [("disk0", str(area / "runs-disk"))]
    assert (area / "runs-disk").is_dir() and (area / "tests").is_dir()
    for section in ("fields", "setup", "jobtools", "env-override", "disks"):
        assert settings.config.has_section(section)
    assert "[default]" in (area / "runconfigs.config").read_text().splitlines()


def test_area_output_names_the_files_and_the_next_step(tmp_path, env):
    out = ok("init", "area", tmp_path / "new", "--keys", "k", env=env)
    assert out.stdout.splitlines() == [f"wrote {tmp_path / 'new' / 'megatest.config'}",
                                       f"wrote {tmp_path / 'new' / 'runconfigs.config'}",
                                       f"next: mt-init test NAME --area {tmp_path / 'new'}"]


def test_area_refuses_an_existing_area_unless_forced(area, env):
    config = area / "megatest.config"
    config.write_text(config.read_text() + "# mine\n")
    (area / "runconfigs.config").write_text("[default]\nMINE 1\n")
    out = mt("init", "area", area, "--keys", "x/y", env=env)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == f"mt-init: error: {config} already exists"
    assert "--force" in out.stderr
    assert config.read_text().endswith("# mine\n")
    ok("init", "area", area, "--keys", "x/y", "--force", env=env)
    assert load_settings(Area(str(area)), environ={}).keys == ["x", "y"]
    assert (area / "runconfigs.config").read_text() == "[default]\nMINE 1\n"   # kept


@pytest.mark.parametrize("keys, message", [
    ("status", "--keys: key name 'status' is reserved"),
    ("arch/ID", "--keys: key name 'ID' is reserved"),
    ("1x", "--keys: key name '1x' must be a plain identifier"),
    ("a-b", "--keys: key name 'a-b' must be a plain identifier"),
    ("a//b", "--keys 'a//b': give key names joined by /"),
    ("a/b/a", "--keys: key 'a' is given twice"),
])
def test_area_bad_keys_are_exit_2(tmp_path, env, keys, message):
    out = mt("init", "area", tmp_path / "a", "--keys", keys, env=env)
    assert out.returncode == 2
    assert out.stderr.startswith(f"mt-init: error: {message}")
    assert not (tmp_path / "a").exists()


# ---------------------------------------------------------------- test

def test_test_writes_every_section(area, env):
    ok("init", "test", "t1", "--area", area, "--steps", "build echo b; check test 1 = 1",
       "--waiton", "t0,tz", "--items", "A 1 2;B x", env=env)
    t = load_def(area, "t1")
    assert t.ezsteps == [("build", "echo b"), ("check", "test 1 = 1")]
    assert t.deps.waitons == ["t0", "tz"]
    assert t.items == [("A", "1 2"), ("B", "x")]
    assert t.meta["author"] == "alice" and t.meta["owner"] == "alice"
    text = (area / "tests" / "t1" / "testconfig").read_text()
    for section in ("[ezsteps]", "[requirements]", "[items]", "[test_meta]"):
        assert section in text.splitlines()


def test_test_defaults_are_one_step_no_waiton_no_items(area, env):
    ok("init", "test", "hello", "--area", area, env=env)
    t = load_def(area, "hello")
    assert [name for name, _ in t.ezsteps] == ["hello"]
    assert (t.deps.waitons, t.items, t.iterated) == ([], [], False)


def test_test_author_without_user_comes_from_the_password_file(area, env):
    import pwd
    minimal = {"PATH": f"{BIN}{os.pathsep}{SYSTEM_PATH}", "HOME": os.environ.get("HOME", "/")}
    ok("init", "test", "t1", "--area", area, env=minimal)
    assert load_def(area, "t1").meta["author"] == pwd.getpwuid(os.getuid()).pw_name


def test_test_finds_the_area_upward_and_warns_on_unknown_waiton(area, env):
    out = ok("init", "test", "down", "--waiton", "up", env=env, cwd=area / "tests")
    assert out.stderr == "mt-init: warning: waiton up: no such test in the area yet\n"
    assert (area / "tests" / "down" / "testconfig").is_file()


@pytest.mark.parametrize("name", ["a b", "a/b", "a,b", "a%", "a*", "a~", "a(b)", ".hidden"])
def test_test_bad_names_are_exit_2(area, env, name):
    out = mt("init", "test", name, "--area", area, env=env)
    assert out.returncode == 2
    assert out.stderr.startswith(f"mt-init: error: test name {name!r} may not")
    assert sorted(os.listdir(area / "tests")) == []


def test_test_existing_is_exit_2(area, env):
    ok("init", "test", "t1", "--area", area, env=env)
    before = (area / "tests" / "t1" / "testconfig").read_text()
    out = mt("init", "test", "t1", "--area", area, "--steps", "x true", env=env)
    assert out.returncode == 2
    assert out.stderr.splitlines()[0] == (f"mt-init: error: test t1 already exists: "
                                          f"{area / 'tests' / 't1' / 'testconfig'}")
    assert (area / "tests" / "t1" / "testconfig").read_text() == before


@pytest.mark.parametrize("args, message", [
    (("--steps", "s1"), "--steps: step 's1' has no command"),
    (("--steps", "a/b echo"), "--steps: step name 'a/b' may not"),
    (("--steps", "s echo; s echo"), "--steps: step 's' is given twice"),
    (("--steps", " ; "), "--steps ' ; ': expected"),
    (("--items", "V"), "--items: variable V has no values"),
    (("--items", "1V a"), "--items: variable name '1V' must be a plain identifier"),
    (("--items", "V a /abs"), "--items: item variable V: unsafe value '/abs'"),
    (("--waiton", "t9"), "--waiton: test t9 cannot wait on itself"),
    (("--waiton", "a%"), "--waiton: test name 'a%' may not"),
])
def test_test_bad_options_are_exit_2(area, env, args, message):
    out = mt("init", "test", "t9", "--area", area, *args, env=env)
    assert out.returncode == 2
    assert out.stderr.startswith(f"mt-init: error: {message}")
    assert not (area / "tests" / "t9").exists()


def test_test_without_an_area_is_exit_2(tmp_path, env):
    out = mt("init", "test", "t1", "--area", tmp_path / "nowhere", env=env)
    assert out.returncode == 2
    assert out.stderr.startswith(f"mt-init: error: test area {tmp_path / 'nowhere'} (from --area)")
    out = mt("init", "test", "t1", env=env, cwd=tmp_path)
    assert out.returncode == 2 and "no megatest.config found" in out.stderr


@pytest.mark.parametrize("args, message", [
    (("area", "D"), "area D: missing --keys KEY1/KEY2..."),
    (("area", "--keys", "a/b"), "area: missing the directory"),
    (("area", "D", "--keys"), "--keys requires an argument"),
    (("test",), "test: missing the test name"),
    (("test", "t1", "--bogus"), "--bogus"),
    (("tset", "t1"), "unknown kind 'tset': expected area or test"),
    ((), "missing what to create: expected area or test"),
])
def test_bad_usage_is_exit_2_naming_the_argument(tmp_path, env, args, message):
    out = mt("init", *args, env=env, cwd=tmp_path)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("mt-init: error: ") and message in out.stderr.splitlines()[0]


def test_help_is_exit_0(env):
    out = ok("init", "--help", env=env)
    assert "mt-init area DIR --keys KEYS" in out.stdout


# ---------------------------------------------------------------- runs as generated

def test_a_fresh_area_and_test_run_and_pass(area, env):
    ok("init", "test", "t1", "--area", area, env=env)
    ok("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=env)
    runs = json.loads(ok("list", "runs", "--area", area, "--json", env=env).stdout)
    assert [(r["target"], r["runname"], r["status"]) for r in runs] == [("a/b", "r", "PASS")]
    assert [(t["testname"], t["state"], t["status"]) for t in runs[0]["tests"]] == [
        ("t1", "COMPLETED", "PASS")]
    text = ok("list", "runs", "--area", area, "--megatest", env=env).stdout
    assert re.search(r"^\s+Test: t1\s+State: COMPLETED\s+Status: PASS\s+Runtime:\s+\d+s", text, re.M)
    log = Path(runs[0]["tests"][0]["rundir"]) / "hello.log"
    assert "hello from t1" in log.read_text()


def test_generated_steps_waitons_and_items_run(area, env):
    ok("init", "test", "up", "--area", area, "--steps", "make echo built > out.txt", env=env)
    ok("init", "test", "down", "--area", area, "--waiton", "up",
       "--items", "SIZE small large;MODE x", "--steps", 'show echo "$SIZE-$MODE"; check test -n "$SIZE"',
       env=env)
    ok("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=env)
    run = json.loads(ok("list", "runs", "--area", area, "--json", env=env).stdout)[0]
    assert [(t["testname"], t["item_path"], t["status"]) for t in run["tests"]] == [
        ("down", "", "PASS"), ("down", "large/x", "PASS"), ("down", "small/x", "PASS"),
        ("up", "", "PASS")]
    large = next(t for t in run["tests"] if t["item_path"] == "large/x")
    assert (Path(large["rundir"]) / "show.log").read_text().strip() == "large-x"
