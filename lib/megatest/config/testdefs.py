"""Tests of an area: discovery and what each testconfig asks for."""
import os
import re
from dataclasses import dataclass, field

from megatest.errors import MtError

BAD_NAME = re.compile(r"[\s/,%*~()]")


@dataclass
class TestDef:
    name: str
    path: str
    config: object
    deps: object                     # waiton.Deps
    priority: int = 0
    runtimelim: float = None
    jobgroup: str = "default"
    items: list = field(default_factory=list)       # [(var, values text)]
    itemstable: list = field(default_factory=list)
    deferred: bool = False           # item values come from [system ...] at expansion time
    ezsteps: list = field(default_factory=list)      # [(name, command)]
    runscript: str = ""
    skip: dict = field(default_factory=dict)
    triggers: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    logpro: dict = field(default_factory=dict)
    disks: list = field(default_factory=list)
    pre_launch_env: list = field(default_factory=list)

    @property
    def iterated(self):
        return bool(self.items or self.itemstable)


def discover_tests(area, tests_paths=(), warn=None):
    """name -> test directory: [tests-paths] first, then <area>/tests; the first found wins."""
    found = {}
    for base in list(tests_paths) + [os.path.join(area.toppath, "tests")]:
        if not os.path.isdir(base):
            if base in tests_paths and warn:
                warn(f"warning: tests path {base} does not exist; skipped")
            continue
        for name in sorted(os.listdir(base)):
            path = os.path.join(base, name)
            if name in found or not os.path.isfile(os.path.join(path, "testconfig")):
                continue
            if BAD_NAME.search(name):
                if warn:
                    warn(f"ERROR: test directory {path}: the name may not contain whitespace or / , % * ~ ( ); skipped")
                continue
            found[name] = path
    return found


def dirs_without_testconfig(area):
    base = os.path.join(area.toppath, "tests")
    if not os.path.isdir(base):
        return []
    return sorted(n for n in os.listdir(base) if os.path.isdir(os.path.join(base, n))
                  and not n.startswith(".") and not os.path.exists(os.path.join(base, n, "testconfig")))


def load_testdefs(found, area, environ, runconfig, warn=None, default_runtimelim=None, scheme=None):
    """(name -> TestDef, name -> MtError) for the tests FOUND (name -> directory). A testconfig
    that does not read is set aside with its error (naming the file, and the line when known):
    one broken test must not refuse the runs and listings that do not need it."""
    defs, broken = {}, {}
    for name, path in found.items():
        try:
            defs[name] = load_testdef(name, path, area, environ, runconfig, warn,
                                      default_runtimelim, scheme)
        except MtError as err:
            where = err.path or os.path.join(path, "testconfig")
            broken[name] = MtError(err.message, where, err.line if err.path else None, err.hint)
    return defs, broken


def load_testdef(name, path, area, environ, runconfig, warn=None, default_runtimelim=None, scheme=None):
    """scheme: what #{scheme} sees ({"scheme_args": {...}, "tests": callable}), see config.read_config."""
    from megatest.config.parse import read_config, parse_hms
    from megatest.config.waiton import Deps, parse_itemmap
    config = read_config(os.path.join(path, "testconfig"), toppath=area.toppath, environ=environ,
                         runconfig=runconfig, defer_system_in=("items", "itemstable"), warn=warn,
                         **(scheme or {}))
    req = config.section("requirements")

    def where(section, key):
        p, line = config.location(section, key)
        return f"{p}:{line}" if p else None

    deps = Deps(waitons=req.get("waiton", "").split(),
                modes=set(req.get("mode", "normal").split()) or {"normal"},
                itemmap=parse_itemmap(req.get("itemmap", "")),
                itemmaps={up: parse_itemmap(text) for up, text in config.section("itemmap").items()})
    if "waitor" in req and warn:
        warn(f"{where('requirements', 'waitor')}: warning: waitor is not supported; ignored")
    meta = dict(config.section("test_meta"))
    jobgroup = meta.get("jobgroup") or req.get("jobgroup") or "default"
    meta["jobgroup"] = jobgroup
    runtimelim = default_runtimelim
    if req.get("runtimelim"):
        runtimelim = parse_hms(req["runtimelim"], where("requirements", "runtimelim"), warn)
    t = TestDef(name=name, path=path, config=config, deps=deps, jobgroup=jobgroup,
                runtimelim=runtimelim, meta=meta)
    t.priority = _int(req.get("priority", "0"), where("requirements", "priority"))
    t.items = [(k, v) for k, v in config.section("items").items()]
    t.itemstable = [(k, v) for k, v in config.section("itemstable").items()]
    t.deferred = any((s, k) in config.deferred for s in ("items", "itemstable")
                     for k in config.section(s))
    t.ezsteps = _ezsteps(config, warn)
    t.runscript = config.get("setup", "runscript", "") or ""
    t.skip = dict(config.section("skip"))
    t.triggers = dict(config.section("triggers"))
    t.logpro = dict(config.section("logpro"))
    t.disks = [(k, v.strip()) for k, v in config.section("disks").items()]
    t.pre_launch_env = list(config.section("pre-launch-env-vars").items())
    return t


def _ezsteps(config, warn):
    steps = []
    for name, command in config.section("ezsteps").items():
        if BAD_NAME.search(name) or name.startswith("."):
            p, line = config.location("ezsteps", name)
            raise MtError(f"ezstep name {name!r} may not contain whitespace or / , % * ~ ( )", p, line)
        match = re.match(r"\s*\{[^}]*\}\s*(.*)\Z", command, re.S)
        if match:
            if warn:
                p, line = config.location("ezsteps", name)
                warn(f"{p}:{line}: warning: the {{...}} prefix of ezstep {name} is ignored")
            command = match.group(1)
        steps.append((name, command))
    return steps


def _int(text, where):
    try:
        return int(str(text).strip() or 0)
    except ValueError:
        path, _, line = (where or "testconfig:").rpartition(":")
        raise MtError(f"priority must be an integer, got {text!r}", path, line or None) from None
