"""Everything a record needs on disk before it starts: directory, links, files, environment."""
import os
import sys
from dataclasses import dataclass, field

from megatest.launch import direct, rundir as rd, testenv, triggers
from megatest.store import homehost


def test_environment(plan, testdef, rec, item, run_dir, link_dir, db_path, run_id, home=None):
    """The test's environment, layered as behaviour.md §11.2 says (later layers win)."""
    from megatest.config.items import item_info
    from megatest.config.parse import eval_env_section
    s = plan.settings
    home = homehost.home_host(s.area, s) if home is None else home
    env = dict(plan.env)                  # base + keys + runconfig (evaluated) + run MT_* names
    ident = testenv.TestIdentity(s.area.toppath, plan.target, plan.runname, testdef.name,
                                 rec["item_path"], db_path, run_id, rec["id"], link_dir)
    env.update(MT_TEST_NAME=testdef.name, MT_ITEMPATH=rec["item_path"], MT_TEST_RUN_DIR=link_dir,
               MT_ITEM_INFO=item_info(item) if item else "", MT_CMDINFO=testenv.encode_cmdinfo(ident),
               MT_MEGATEST=os.path.join(bin_dir(), "megatest"), MT_RUN_ID=str(run_id),
               MT_TEST_ID=str(rec["id"]))
    if s.env_override:                    # evaluated again here, as Megatest's executor does
        env.update(eval_env_section(s.env_override, env))
    env.update(dict(zip(s.keys, plan.keyvals)))
    env.update(MT_LINKTREE=s.linktree, MT_RUNNAME=plan.runname, MT_RUN_AREA_HOME=s.area.toppath)
    env["MT_HOMEHOST"] = home          # elsewhere, mt-test goes through mt-serve
    if item:
        env.update(item)
    if testdef.pre_launch_env:
        env.update(eval_env_section(testdef.pre_launch_env, env))
    env["PATH"] = env.get("PATH", "/usr/bin:/bin") + os.pathsep + bin_dir()
    return env


def bin_dir():
    """Where the project's commands are installed: beside this interpreter when they are
    there (the venv's bin, as `make` installs them), else beside the running command
    (argv[0]: the one place the library looks at argv). Tests get it on PATH and as
    MT_MEGATEST's directory; mt-serve starts queued actions from it."""
    here = os.path.dirname(sys.executable)
    if os.path.exists(os.path.join(here, "mt-run")):
        return here
    return os.path.dirname(os.path.abspath(sys.argv[0]))


@dataclass
class Caches:
    """What one runner remembers between launches (each saves file-system work per test)."""
    made_links: set = field(default_factory=set)     # link-tree links already made
    test_files: dict = field(default_factory=dict)   # small test dirs read into memory
    env_lines: dict = field(default_factory=dict)    # quoted megatest.sh/.csh lines
    scripts: dict = field(default_factory=dict)      # wrapper script per test
    bodies: dict = field(default_factory=dict)       # body calls per test (runner's shell)
    home: str = None                                 # the area's home host


def prepare(runner, key):
    """Create the run directory and its files; returns (physical dir, link dir, env, script).

    Every file or directory made here costs 0.3-0.7 ms on a busy disk, and a nightly run
    makes thousands: directories already made are remembered, the wrapper travels in argv."""
    plan, s = runner.plan, runner.settings
    rec = runner.records.recs[key]
    t = plan.tests[key[0]]
    top = runner.records.recs[(key[0], "")]
    disk = _disk_of(top, len(s.keys)) or rd.choose_disk(s, t.disks)
    phys, link, phys_top, link_top = rd.paths(s, disk, plan.target, plan.runname, key[0], key[1])
    fresh = not os.path.lexists(phys)
    if not fresh and (rec.get("attempt") or os.path.exists(os.path.join(phys, direct.STEPS_FILE))):
        rd.clean_dir(phys, attempt=(rec.get("attempt") or 1) - 1)
        fresh = True
    os.makedirs(phys, exist_ok=True)
    made = runner.caches.made_links
    if link_top not in made:
        rd.ensure_link(link_top, phys_top)
        made.add(link_top)
    if key[1] and top.get("shortdir") != phys_top:
        runner._set((key[0], ""), shortdir=phys_top, rundir=link_top)
    script = _script(runner, t)
    if s.testcopycmd:
        with open(os.path.join(phys, direct.LAUNCH_LOG), "a") as log:
            rd.copy_test(t.path, phys, s.testcopycmd, log, made=True)
    else:
        rd.copy_test(t.path, phys, made=True, cache=runner.caches.test_files)
    for step, rules in t.logpro.items():
        path = os.path.join(phys, f"{step}.logpro")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(rules + "\n")
    item = _item_of(runner, t, key[1])
    if runner.caches.home is None:
        runner.caches.home = homehost.home_host(s.area, s)
    env = test_environment(plan, t, rec, item, phys, link, runner.conn_path, runner.run_id,
                           runner.caches.home)
    rd.write_env_files(phys, env, s.blacklist, runner.caches.env_lines)
    direct.prepare(phys, fresh)
    if t.triggers or not fresh:
        triggers.write_spec(phys, t.triggers)
    return phys, link, env, script


def _script(runner, t):
    cache = runner.caches.scripts
    if t.name not in cache:
        cache[t.name] = direct.wrapper_text(t.runscript, t.ezsteps)
    return cache[t.name]


def body(runner, t):
    cache = runner.caches.bodies
    if t.name not in cache:
        cache[t.name] = direct.body_calls(t.runscript, t.ezsteps)
    return cache[t.name]


def _disk_of(top, nkeys):
    """The disk a test's toplevel already lives on (all items of a test share one disk)."""
    short = top.get("shortdir")
    if not short or not os.path.isdir(short):
        return None
    for _ in range(nkeys + 2):            # <disk>/<key1>/.../<keyN>/<runname>/<test>
        short = os.path.dirname(short)
    return short


def _item_of(runner, t, item_path):
    if not item_path:
        return None
    return runner.records.item_values.get((t.name, item_path))
