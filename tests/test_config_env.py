"""The config-time environment, as Megatest sets it (issue 8 §1): what helpers in
megatest.config, runconfigs.config and testconfigs see, path settings that an unset variable
would send to /, and RUNNING/ triggers."""
import os
import time

from conftest import mt, records


def run(area, env, *args, target="a/b", runname="r"):
    return mt("run", "--area", area, "--target", target, "--runname", runname, "--quiet", *args, env=env)


def step_env(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_mt_variables_and_keys_are_set_before_megatest_config_is_read(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 env\n"}, config="""
        [env-override]
        SEEN_HOME #{getenv MT_RUN_AREA_HOME}
        SEEN_TARGET #{getenv MT_TARGET}
        SEEN_RUN #{getenv MT_RUNNAME}
        SEEN_SUITE #{getenv MT_TESTSUITENAME}
        SEEN_KEY #{getenv arch}-#{getenv os}
        """, runconfigs="[default]\nRC_HOME #{getenv MT_RUN_AREA_HOME}\nRC_TARGET #{getenv MT_TARGET}\n")
    out = run(area, mt_env, target="x86/linux", runname="nightly")
    assert out.returncode == 0, out.stderr
    env = step_env(area / "disk0/x86/linux/nightly/t1/s1.log")
    assert (env["SEEN_HOME"], env["SEEN_TARGET"], env["SEEN_RUN"]) == (str(area), "x86/linux", "nightly")
    assert (env["SEEN_SUITE"], env["SEEN_KEY"]) == ("area", "x86-linux")
    assert (env["RC_HOME"], env["RC_TARGET"]) == (str(area), "x86/linux")


def test_linktree_from_mt_run_area_home_stays_in_the_area(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 true\n"}, config="[setup]\nlinktree #{getenv MT_RUN_AREA_HOME}/mylt\n")
    assert run(area, mt_env).returncode == 0
    assert os.path.islink(area / "mylt/a/b/r/t1")


def test_env_override_is_exported_as_read_for_later_lines_and_testconfigs(make_area, mt_env):
    area = make_area({
        "up": "[ezsteps]\ns1 true\n",
        "down": "[requirements]\nwaiton #{getenv UPSTREAMS}\n\n"
                "[items]\nI [system echo $ITEMS_FROM]\n\n[ezsteps]\ns1 echo $I $LATER\n",
    }, config="""
        [env-override]
        UPSTREAMS up
        ITEMS_FROM one two
        BASE $MT_RUN_AREA_HOME/base
        [setup]
        LATER_KEY #{getenv BASE}
        [env-override]
        LATER #{get setup LATER_KEY}
        """)
    out = run(area, mt_env)
    assert out.returncode == 0, out.stderr
    recs = records(area, mt_env)
    assert set(recs) == {"up", "down", "down/one", "down/two"}
    assert recs["down/one"]["status"] == "PASS"
    assert (area / "disk0/a/b/r/down/two/s1.log").read_text() == f"two {area}/base\n"
    starts = {k: r["event_time"] for k, r in recs.items()}
    assert starts["down/one"] >= starts["up"]


def test_env_override_wins_over_the_runconfig(make_area, mt_env):
    area = make_area({"t1": "[ezsteps]\ns1 env\n"}, config="[env-override]\nV from-override\n",
                     runconfigs="[default]\nV from-runconfig\nW $V-seen\n")
    assert run(area, mt_env).returncode == 0
    env = step_env(area / "disk0/a/b/r/t1/s1.log")
    # the runconfig is evaluated in order (W sees its own V); then [env-override] is applied
    assert (env["V"], env["W"]) == ("from-override", "from-runconfig-seen")


def test_unset_variable_in_a_path_setting_warns_with_file_line_and_creates_nothing_at_root(
        make_area, mt_env, tmp_path):
    name = f"mt-guard-{os.getpid()}"
    area = make_area({"t1": "[ezsteps]\ns1 true\n"}, config=f"""
        [setup]
        linktree #{{getenv NO_SUCH_VAR}}/{name}-lt
        [disks]
        disk1 #{{shell echo $NO_SUCH_DISK}}/{name}-runs
        """)
    out = run(area, mt_env)
    assert out.returncode == 0, out.stderr
    cfg = area / "megatest.config"
    assert f"{cfg}:13: warning: [setup] linktree is /{name}-lt ($NO_SUCH_VAR is unset); " \
           f"using {area}/lt" in out.stderr
    assert f"{cfg}:15: warning: [disks] disk1 is /{name}-runs ($NO_SUCH_DISK is unset); ignored" \
        in out.stderr
    assert not os.path.exists(f"/{name}-lt") and not os.path.exists(f"/{name}-runs")
    assert os.path.islink(area / "lt/a/b/r/t1")
    assert records(area, mt_env)["t1"]["status"] == "PASS"


def test_a_new_top_level_directory_is_refused_even_without_a_variable(make_area, mt_env):
    name = f"mt-top-{os.getpid()}"
    area = make_area({"t1": "[ezsteps]\ns1 true\n"}, config=f"[setup]\nlinktree /{name}\n")
    out = mt("list", "config", "--area", area, env=mt_env)
    assert out.returncode == 0
    assert f"warning: [setup] linktree is /{name} (a new directory at the top of the file system)" \
        in out.stderr
    assert not os.path.exists(f"/{name}")


def test_scheme_create_directory_never_creates_at_root(make_area, mt_env):
    name = f"mt-scm-{os.getpid()}"
    area = make_area({"t1": "[ezsteps]\ns1 true\n"}, config=f"""
        [setup]
        made #{{scheme (create-directory "#{{getenv MT_RUN_AREA_HOME}}/scm/made" #t)}}
        top #{{scheme (create-directory "#{{getenv NOPE}}/{name}" #t)}}
        """)
    out = mt("list", "config", "--area", area, env=mt_env)
    assert out.returncode == 0, out.stderr
    assert (area / "scm/made").is_dir()
    assert not os.path.exists(f"/{name}")
    assert f"not creating /{name}" in out.stderr


def test_running_trigger_fires_for_a_test_that_runs_its_steps(make_area, mt_env):
    area = make_area({"t1": "[triggers]\nRUNNING/ echo running >> $MT_RUN_AREA_HOME/fired;\n"
                            "COMPLETED/ echo completed >> $MT_RUN_AREA_HOME/fired;\n\n"
                            "[ezsteps]\ns1 sleep 0.3\n"})
    assert run(area, mt_env).returncode == 0
    deadline = time.time() + 10
    while time.time() < deadline and "completed" not in _read(area / "fired"):
        time.sleep(0.05)
    lines = _read(area / "fired").split()
    assert "running" in lines and "completed" in lines
    log = (area / "disk0/a/b/r/t1/last-trigger.log").read_text()
    assert "trigger RUNNING/:" in log


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return ""
