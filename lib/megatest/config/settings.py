"""What megatest.config says: keys, limits, disks, launchers, environment sections."""
import os
import re
from dataclasses import dataclass, field

from megatest.errors import MtError

RESERVED_KEYS = {"runname", "state", "status", "owner", "event_time", "comment", "fail_count",
                 "pass_count", "contour", "id"}
KEY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
BAD_TARGET_CHARS = set(" \t%*,")
DEFAULT_MINSPACE_KIB = 10000
DEFAULT_DEADTIME = 600
LAUNCHER_MAX_JOBS = 50


@dataclass
class Settings:
    area: object
    config: object
    keys: list
    linktree: str
    max_jobs: int
    launcher: str
    disks: list = field(default_factory=list)       # [(name, path)]
    minspace_kib: int = DEFAULT_MINSPACE_KIB
    launch_delay: float = 0.0
    runtimelim: float = None
    deadtime: float = DEFAULT_DEADTIME
    jobgroups: dict = field(default_factory=dict)  # group -> limit
    env_override: list = field(default_factory=list)  # [(var, value as written)] in file order
    env_override_values: dict = field(default_factory=dict)  # var -> value evaluated while reading
    allow_auto_rerun: list = field(default_factory=list)  # [(state, status)]
    cleanrerun_states: tuple = ("KILLREQ", "KILLED", "UNKNOWN", "INCOMPLETE", "STUCK", "NOT_STARTED")
    cleanrerun_statuses: tuple = ("FAIL", "INCOMPLETE", "ABORT", "CHECK", "DEAD", "STUCK/DEAD")
    testcopycmd: str = ""
    blacklist: tuple = ("USER", "HOME", "DISPLAY", "LS_COLORS", "XKEYSYMDB", "EDITOR", "MAKEFLAGS",
                        "MAKEF", "MAKEOVERRIDES")
    area_name: str = ""
    tests_paths: list = field(default_factory=list)
    reruns: int = 0
    dbdir: str = ""
    environ: dict = field(default_factory=dict)    # after megatest.config: MT_*, keys, env-override

    def live_db_path(self, environ=None):
        """The live database on this host: [setup] dbdir, else $MT_TMPDIR, else /tmp."""
        return self.area.live_db_path(environ, self.dbdir or None)

    def where(self, section, key):
        path, line = self.config.location(section, key)
        return f"{path}:{line}" if path else "megatest.config"


def read_keys(area, environ=None, warn=None, target=None, runname=None):
    """The ordered [fields] of megatest.config, validated (behaviour.md §4), and the Config.

    Read as Megatest reads it: MT_RUN_AREA_HOME, MT_TARGET, MT_RUNNAME and MT_TESTSUITENAME
    are set first, the key variables once [fields] ends, and each [env-override] value is
    exported as it is read; the resulting environment is `config.environ`."""
    from megatest.config.parse import read_config

    def key_vars(keys):
        # without a target, $MT_TARGET gives the key variables (as in Megatest's set-fields)
        given = target or (environ if environ is not None else os.environ).get("MT_TARGET")
        parts = given.split("/") if given else []
        return dict(zip(keys, parts)) if len(parts) == len(keys) else {}

    config = read_config(area.config_path, toppath=area.toppath,
                         environ=config_environ(area, environ, target, runname), warn=warn,
                         export_sections=("env-override",), on_fields=key_vars)
    return _keys(config, area), config


def config_environ(area, environ=None, target=None, runname=None):
    """The environment config files are read in: what Megatest sets before reading them."""
    env = dict(os.environ if environ is None else environ)
    env["MT_RUN_AREA_HOME"] = area.toppath
    env.setdefault("MT_TESTSUITENAME", env.get("MT_TESTSUITE_NAME") or os.path.basename(area.toppath))
    if target:
        env["MT_TARGET"] = target
    if runname:
        env["MT_RUNNAME"] = runname
    return env


def _keys(config, area):
    keys = list(config.section("fields"))
    for key in keys:
        path, line = config.location("fields", key)
        if not KEY_NAME.match(key):
            raise MtError(f"key name {key!r} in [fields] must be a plain identifier", path, line)
        if key.lower() in RESERVED_KEYS:
            raise MtError(f"key name {key!r} in [fields] is reserved (used by the runs table)", path, line)
    if not keys:
        raise MtError("no keys: megatest.config needs a [fields] section", area.config_path,
                      hint="[fields]\\nos TEXT\\narch TEXT")
    return keys


def split_target(target, keys):
    """Key values of a target; its length must match the keys (else MtError)."""
    parts = target.split("/")
    if len(parts) != len(keys):
        raise MtError(f"target {target!r} has {len(parts)} part(s) but the area has {len(keys)} keys "
                      f"({'/'.join(keys)})", hint=f"--target {'/'.join('<' + k + '>' for k in keys)}")
    for part in parts:
        if not part or BAD_TARGET_CHARS & set(part) or part in (".", "..") or \
                not part.isprintable():
            raise MtError(f"target {target!r}: part {part!r} is empty, . or .., or contains "
                          "whitespace, a control character, %, * or ,")
    return parts


def check_runname(runname):
    if not runname or "/" in runname or any(c.isspace() for c in runname) or \
            runname in (".", "..") or not runname.isprintable():
        raise MtError(f"run name {runname!r} must be non-empty, without '/', whitespace or "
                      "control characters")


def key_environ(keys, keyvals):
    return dict(zip(keys, keyvals))


def load_settings(area, environ=None, warn=None, target=None, runname=None):
    """Read megatest.config; with a target, the key variables are visible to its helpers."""
    from megatest.config.parse import parse_hms
    keys, config = read_keys(area, environ, warn, target, runname)
    if target is not None:
        split_target(target, keys)
    environ = config.environ
    setup = config.section("setup")
    launcher = config.get("jobtools", "launcher", "") or ""
    path = _PathCheck(area, config, environ, warn)
    s = Settings(area=area, config=config, keys=keys,
                 linktree=path.get("setup", "linktree", "lt"),
                 max_jobs=0, launcher=launcher.strip(), environ=environ)
    s.max_jobs = _max_jobs(config, s)
    s.disks = [(name, p) for name in config.section("disks")
               for p in [path.get("disks", name, None)] if p is not None]
    s.minspace_kib = _number(config, "setup", "minspace", DEFAULT_MINSPACE_KIB, int)
    s.launch_delay = _number(config, "setup", "launch-delay", 0.0, float)
    s.deadtime = _number(config, "setup", "deadtime", DEFAULT_DEADTIME, float)
    s.reruns = _number(config, "setup", "reruns", 0, int)
    if setup.get("runtimelim"):
        s.runtimelim = parse_hms(setup["runtimelim"], s.where("setup", "runtimelim"), warn)
    s.jobgroups = {g: _number(config, "jobgroups", g, 0, int) for g in config.section("jobgroups")}
    # as written: a test's launch evaluates them again in its own environment, as Megatest's
    # executor re-reads megatest.config where MT_LINKTREE, MT_TEST_NAME ... are set
    s.env_override = [(k, config.raw.get(("env-override", k), v)) for k, v in config.section("env-override").items()]
    s.env_override_values = config.section("env-override")     # as read (exported then)
    s.allow_auto_rerun = _state_status_pairs(setup.get("allow-auto-rerun", ""))
    valid = config.section("validvalues")
    if valid.get("cleanrerun-states"):
        s.cleanrerun_states = tuple(_commas(valid["cleanrerun-states"]))
    if valid.get("cleanrerun-statuses"):
        s.cleanrerun_statuses = tuple(_commas(valid["cleanrerun-statuses"]))
    s.testcopycmd = setup.get("testcopycmd", "")
    s.dbdir = path.get("setup", "dbdir", None) or ""
    if setup.get("blacklistvars"):
        s.blacklist = tuple(setup["blacklistvars"].split())
    s.area_name = (setup.get("area-name") or setup.get("testsuite") or environ.get("MT_TESTSUITE_NAME")
                   or os.path.basename(area.toppath))
    environ["MT_TESTSUITENAME"] = s.area_name
    s.tests_paths = [_abs(area, p.strip()) for p in config.section("tests-paths").values() if p.strip()]
    return s


class _PathCheck:
    """Path settings (linktree, [disks], dbdir) that would put directories outside the area and
    the user's own directories because a helper read an unset variable (`#{getenv X}/lt` ->
    `/lt`), or at the top of the file system, are refused with a warning naming file:line."""

    def __init__(self, area, config, environ, warn):
        self.area, self.config, self.warn = area, config, warn
        self.home = environ.get("HOME") or ""

    def get(self, section, key, default):
        """The checked absolute path of [section] key; `default` (made absolute) when unset,
        empty or refused."""
        text = (self.config.get(section, key) or "").strip()
        fallback = _abs(self.area, default) if default else default
        if not text:
            return fallback
        path = os.path.normpath(_abs(self.area, text))
        unset = self.config.unset_vars(section, key)
        if unset and not self.owned(path):
            why = f"{', '.join('$' + v for v in unset)} {'is' if len(unset) == 1 else 'are'} unset"
        elif _top_level_dir(path) and not os.path.isdir(path):
            why = "a new directory at the top of the file system"
        else:
            return path
        if self.warn:
            instead = f"using {fallback}" if fallback else "ignored"
            self.warn(f"{self.config.location(section, key)[0]}:{self.config.location(section, key)[1]}: "
                      f"warning: [{section}] {key} is {path} ({why}); {instead}")
        return fallback

    def owned(self, path):
        """Inside the area or $HOME, or below an existing directory (not /) of this user."""
        for root in (self.area.toppath, self.home):
            if root and root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
                return True
        here = path
        while here != "/" and not os.path.isdir(here):
            here = os.path.dirname(here)
        try:
            return here != "/" and os.stat(here).st_uid == os.getuid()
        except OSError:
            return False


def _top_level_dir(path):
    from megatest.config.parse import top_level_dir
    return top_level_dir(path)


def _max_jobs(config, s):
    text = config.get("setup", "max_concurrent_jobs")
    if text is None or not text.strip():
        return LAUNCHER_MAX_JOBS if s.launcher else (os.cpu_count() or 1)
    value = _number(config, "setup", "max_concurrent_jobs", 1, int)
    if value < 1:
        raise MtError("max_concurrent_jobs must be at least 1", *config.location("setup", "max_concurrent_jobs"))
    return value


def _number(config, section, key, default, kind):
    text = config.get(section, key)
    if text is None or not str(text).strip():
        return default
    try:
        return kind(str(text).strip())
    except ValueError:
        raise MtError(f"[{section}] {key} must be a number, got {text!r}",
                      *config.location(section, key)) from None


def _abs(area, path):
    return path if os.path.isabs(path) else os.path.join(area.toppath, path)


def _commas(text):
    return [w.strip() for w in text.replace(",", " ").split() if w.strip()]


def _state_status_pairs(text):
    pairs = []
    for word in text.replace('"', " ").split():
        state, _, status = word.partition("/")
        pairs.append((state, status))
    return pairs
