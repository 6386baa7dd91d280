"""The config language (megatest.config, runconfigs.config, testconfig): sections of keys, with file:line kept for every value."""
import logging
import os
import re
import shlex
import stat
import subprocess
from dataclasses import dataclass, field

from megatest.errors import MtError

log = logging.getLogger("megatest.config")

# A comment line: helpers on it are still expanded, side effects included, as Megatest does
# (behaviour.md §3.1); a line starting with "#{" is a helper, not a comment.
_COMMENT = re.compile(r"\s*#(?!\{)")
_SETTING = re.compile(r"\[configf:settings\s+(\S+)\s+(\S+)\]\s*$")
_INCLUDE = re.compile(r"\[include\s+(.*)\]\s*$")
_SCRIPTINC = re.compile(r"\[scriptinc\s+(\S+)([^\]]*)\]\s*$")
_SECTION = re.compile(r"\[(.*)\]\s*$")
_SYSTEM = re.compile(r"(\S+)\s+\[system\s+(\S.*)\]\s*$")
_KEY_ONLY = re.compile(r"(\S+)\s*$")
_KEY_VALUE = re.compile(r"(\S+)\s+(.*)$")
_CONTINUATION = re.compile(r"(\s+)(\S.*)$")
_HELPER = re.compile(r"#\{([^{}]*)\}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_HMS_TOKEN = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)$")
_HMS_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# "#{" in text that must stay literal (unknown helpers, helper results) is hidden behind this
# marker while expanding, so it is never taken for a helper; it is restored at the end.
_HIDDEN = "\x00{"
_COMMAND_HELPERS = {"shell", "sh", "system"}
_SHELL_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
MAX_CONFIG_BYTES = 16 * 1024 * 1024   # a config file larger than this is refused, never read
MAX_INCLUDE_DEPTH = 64                # [include] nesting deeper than this is refused


@dataclass
class Config:
    """Parsed config: section -> {key: value}, insertion-ordered (a repeated key moves to the end)."""
    sections: dict = field(default_factory=dict)
    locations: dict = field(default_factory=dict)
    deferred: set = field(default_factory=set)
    unset: dict = field(default_factory=dict)      # (section, key) -> variables a helper found unset
    environ: dict = field(default_factory=dict)    # the environment after reading (exports included)
    raw: dict = field(default_factory=dict)        # (section, key) -> text before an export evaluated it

    def get(self, section, key, default=None):
        return self.sections.get(section, {}).get(key, default)

    def section(self, name):
        """A copy of section `name` ({} when missing); changing it does not change the Config."""
        return dict(self.sections.get(name, {}))

    def has_section(self, name):
        return name in self.sections

    def location(self, section, key):
        return self.locations.get((section, key), (None, None))

    def unset_vars(self, section, key):
        """Variables that helpers on KEY's line read while they were unset (sorted)."""
        return sorted(self.unset.get((section, key), ()))


def _default_warn(message):
    log.warning("%s", message)


def run_system(cmd, environ, cwd=None):
    """Run cmd through /bin/sh; return (stdout lines joined by single spaces, exit code)."""
    proc = subprocess.run(["/bin/sh", "-c", cmd], env=dict(environ), cwd=cwd,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    out = proc.stdout.decode("utf-8", errors="replace")
    if out.endswith("\n"):
        out = out[:-1]
    return out.replace("\n", " "), proc.returncode


def parse_hms(text, where=None, warn=None):
    """Seconds in hms text like '1d 2h 3m 4s' (a bare number is seconds); None when empty or nothing valid."""
    if text is None or not str(text).strip():
        return None
    warn = warn or _default_warn
    total, seen = 0.0, False
    for token in str(text).split():
        m = _HMS_TOKEN.match(token)
        if not m:
            prefix = f"{where}: " if where else ""
            warn(f"{prefix}ignoring {token!r} in duration {text!r} (expected e.g. 1d 2h 3m 4s)")
            continue
        total += float(m.group(1)) * _HMS_UNITS[m.group(2)]
        seen = True
    return total if seen else None


def eval_env_section(pairs, environ, cwd=None):
    """Each value becomes the first line of `echo VALUE` run by the shell, exported before the
    next value is read (Megatest's config:eval-string-in-environment); one bash for all."""
    pairs = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
    if not pairs:
        return {}
    lines = []
    for key, value in pairs:
        if not _IDENTIFIER.match(key):
            raise MtError(f"invalid environment variable name {key!r}")
        lines.append(f"__mt_v={shlex.quote(value)}")
        lines.append('__mt_r="$(eval "echo $__mt_v")"')
        lines.append(f"export {key}=\"${{__mt_r%%$'\\n'*}}\"")
        lines.append(f"printf '%s\\0' \"${key}\"")
    proc = subprocess.run(["bash", "-c", "\n".join(lines)], env=dict(environ), cwd=cwd,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    values = proc.stdout.decode("utf-8", errors="replace").split("\0")[:-1]
    if len(values) != len(pairs):
        raise MtError(f"evaluating environment variables failed (bash exit code {proc.returncode})")
    return {key: value for (key, _), value in zip(pairs, values)}


def _is_template(name):
    return "%" in name or (len(name) >= 2 and name.startswith("/") and name.endswith("/"))


def _template_regex(name):
    if name.startswith("/") and name.endswith("/") and len(name) >= 2:
        return re.compile(name[1:-1])
    return re.compile(".*".join(re.escape(part) for part in name.split("%")))


def _template_matches(template, name):
    return name != "default" and not _is_template(name) and bool(_template_regex(template).fullmatch(name))


def _read_capped(path, where):
    """The text of a regular config file of at most MAX_CONFIG_BYTES. A fifo would block,
    /dev/zero would never end and a huge file would take seconds and gigabytes: refused at
    once, at `where` (the include line, or the file itself)."""
    try:
        with open(path, "rb", opener=_open_nonblocking) as f:
            info = os.fstat(f.fileno())
            if not stat.S_ISREG(info.st_mode):        # (open() itself refuses a directory)
                raise MtError(f"cannot read config file {path}: not a regular file", *where)
            data = b"" if info.st_size > MAX_CONFIG_BYTES else f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise MtError(f"cannot read config file {path}: {e.strerror}", *where) from None
    if info.st_size > MAX_CONFIG_BYTES or len(data) > MAX_CONFIG_BYTES:   # a growing file too
        size = max(info.st_size, len(data)) / (1024 * 1024)
        raise MtError(f"config file {path} is too large ({size:.1f} MB; the limit is "
                      f"{MAX_CONFIG_BYTES // (1024 * 1024)} MB)", *where)
    text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")   # as text mode's universal newlines


def _run_capped(argv, environ, cwd):
    """(stdout, exit code) of a command whose output is config text, or (None, None) when it
    printed more than a config file may hold: then it is killed, not read forever."""
    proc = subprocess.Popen(argv, env=dict(environ), cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE)
    with proc:
        out = proc.stdout.read(MAX_CONFIG_BYTES + 1)
        if len(out) > MAX_CONFIG_BYTES:
            proc.kill()
            return None, None
    return out, proc.returncode


def _open_nonblocking(path, flags):
    """Open without waiting for a writer (a fifo), so the type check can refuse it."""
    return os.open(path, flags | os.O_NONBLOCK)


def _chain_text(stack):
    """An include chain, shortened to its two ends when long."""
    names = stack if len(stack) <= 6 else stack[:3] + ["..."] + stack[-3:]
    return " -> ".join(names)


def _logical_lines(text):
    """Yield (first physical line number, logical line); a trailing backslash joins the next line."""
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()
    buf, start = None, 0
    for number, raw in enumerate(physical, 1):
        if raw.endswith("\r"):
            raw = raw[:-1]
        if buf is None:
            buf, start = "", number
        if raw.endswith("\\"):
            buf += raw[:-1]
            continue
        yield start, buf + raw
        buf = None
    if buf is not None:
        yield start, buf


class _Parser:
    """State of one read_config call, shared by every file it reads (key store, trim setting, include stack)."""

    def __init__(self, toppath, environ, runconfig, defer_system_in, warn, target, runconfig_mode,
                 export_sections=(), on_fields=None, scheme_args=None, tests=None):
        self.cfg = Config()
        self.scheme_args, self.tests = scheme_args, tests
        self.export_sections = set(export_sections)
        self.on_fields = on_fields
        self.line_unset = set()
        self.toppath = toppath
        # commands in config files run in the area's top directory, as Megatest runs them
        self.cwd = toppath if os.path.isdir(toppath) else None
        self.environ = dict(os.environ) if environ is None else dict(environ)
        self.runconfig = runconfig
        self.defer_system_in = set(defer_system_in)
        self.warn = warn or _default_warn
        self.target = target
        self.runconfig_mode = runconfig_mode
        self.trim = False
        self.stack = []
        self.cont = None  # [section, key, prefix] while a continuation line may follow

    # -- files -------------------------------------------------------------------------------

    def read_file(self, path, section, where=None):
        # the first file cannot close a cycle: realpath (a stat per path component) only
        # for included files
        real = os.path.realpath(path) if self.stack else os.path.abspath(path)
        if real in self.stack:
            chain = " -> ".join(self.stack[self.stack.index(real):] + [real])
            raise MtError(f"include cycle: {chain}", *(where or (path, None)))
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            raise MtError(f"includes nested more than {MAX_INCLUDE_DEPTH} deep: "
                          f"{_chain_text(self.stack + [real])}", *(where or (path, None)))
        text = _read_capped(path, where or (path, None))
        self.stack.append(real)
        try:
            self.parse_text(text, path, section)
        finally:
            self.stack.pop()

    def parse_text(self, text, path, section):
        self.cont = None
        for number, line in _logical_lines(text):
            section = self.parse_line(line, path, number, section)
        self.end_section(section)
        self.cont = None

    # -- one logical line ---------------------------------------------------------------------

    def parse_line(self, line, path, number, section):
        """Handle one logical line; return the section that is current afterwards."""
        where = (path, number)
        self.line_unset = set()
        if _COMMENT.match(line):
            self.cont = None
            if "#{" in line:
                self.expand(line, where, section, comment=True)   # for its side effects
            return section
        line = self.expand(line, where, section)
        if line.lstrip().startswith("#"):
            self.cont = None
            return section
        if self.trim:
            line = line.rstrip()
        if not line.strip():
            self.cont = None
            return section
        if line.startswith("["):
            return self.bracket_line(line, where, section)
        cont, self.cont = self.cont, None
        if m := _SYSTEM.match(line):
            self.system_value(section, m.group(1), m.group(2), where)
        elif m := _KEY_ONLY.match(line):
            self.store(section, m.group(1), "", where)
        elif m := _KEY_VALUE.match(line):
            self.store(section, m.group(1), m.group(2), where)
        else:
            self.continuation(cont, _CONTINUATION.match(line), where)
            return section
        self.cont = [section, m.group(1), None]
        return section

    def bracket_line(self, line, where, section):
        self.cont = None
        m = _SETTING.match(line)
        if m:
            self.setting(m.group(1), m.group(2), where)
            return section
        m = _INCLUDE.match(line)
        if m:
            self.include(m.group(1).strip(), where, section)
            return section
        m = _SCRIPTINC.match(line)
        if m:
            self.scriptinc(m.group(1), m.group(2), where, section)
            return section
        m = _SECTION.match(line)
        if not m:
            raise MtError(f"bad section header {line.strip()!r} (missing ']'?)", *where)
        return self.start_section(m.group(1), where, section)

    def continuation(self, cont, m, where):
        if cont is None:
            self.warn(f"{where[0]}:{where[1]}: indented line with nothing to continue; ignored")
            return
        section, key, prefix = cont
        indent, text = m.group(1), m.group(2)
        if prefix is None:
            prefix = indent
        elif indent.startswith(prefix):
            text = indent[len(prefix):] + text
        value = self.cfg.sections[section][key] + "\n" + text
        self.cfg.sections[section][key] = value
        self.cont = [section, key, prefix]

    def setting(self, name, value, where):
        if name != "trim-trailing-spaces" or value not in ("yes", "no"):
            self.warn(f"{where[0]}:{where[1]}: unknown parser setting {name} {value}; ignored")
            return
        self.trim = value == "yes"

    # -- sections and keys --------------------------------------------------------------------

    def start_section(self, name, where, current):
        if _is_template(name):
            try:
                _template_regex(name)
            except re.error as e:
                raise MtError(f"bad regex in section template [{name}]: {e}", *where)
        self.end_section(current)
        self.cfg.sections.setdefault(name, {})
        return name

    def end_section(self, name):
        """A template ends: copy its keys into every existing section it matches, then drop it.
        [fields] ends: the key variables become visible to the rest of the file (as Megatest)."""
        if name == "fields" and self.on_fields is not None:
            self.environ.update(self.on_fields(list(self.cfg.sections.get("fields", {}))))
        if not _is_template(name) or name not in self.cfg.sections:
            return
        keys = self.cfg.sections.pop(name)
        origin = {k: (self.cfg.locations.pop((name, k)), (name, k) in self.cfg.deferred) for k in keys}
        self.cfg.deferred -= {(name, k) for k in keys}
        for target in [s for s in self.cfg.sections if _template_matches(name, s)]:
            for key, value in keys.items():
                self.store(target, key, value, origin[key][0], deferred=origin[key][1])

    def store(self, section, key, value, where, deferred=False):
        if section in self.export_sections and not deferred:
            self.cfg.raw[(section, key)] = value
            value = self.export(key, value, where)
        keys = self.cfg.sections.setdefault(section, {})
        keys.pop(key, None)
        keys[key] = value
        self.cfg.locations[(section, key)] = tuple(where)
        if self.line_unset:
            self.cfg.unset[(section, key)] = set(self.line_unset)
        else:
            self.cfg.unset.pop((section, key), None)
        if deferred:
            self.cfg.deferred.add((section, key))
        else:
            self.cfg.deferred.discard((section, key))

    def export(self, key, value, where):
        """An environment section's value, evaluated as `echo` arguments and exported at once,
        so the rest of this file and every later reader see it (Megatest's env-override)."""
        try:
            value = eval_env_section([(key, value)], self.environ, self.cwd)[key]
        except MtError as err:
            raise MtError(err.message, *where) from None
        self.environ[key] = value
        return value

    def system_value(self, section, key, cmd, where):
        if section in self.defer_system_in:
            self.store(section, key, cmd, where, deferred=True)
            return
        if not self.commands_allowed(section):
            self.store(section, key, cmd, where)
            return
        text, code = run_system(cmd, self.environ, self.cwd)
        if code != 0:
            self.warn(f"{where[0]}:{where[1]}: [system {cmd}] exited with code {code}")
        self.store(section, key, text, where)

    def commands_allowed(self, section):
        """In runconfigs.config, commands run only in [default], the target's section and templates matching it."""
        if not self.runconfig_mode or section in ("default", self.target):
            return True
        return self.target is not None and _is_template(section) and _template_matches(section, self.target)

    # -- include and scriptinc ----------------------------------------------------------------

    def include(self, name, where, section):
        path = os.path.join(os.path.dirname(os.path.abspath(where[0])), os.path.expanduser(name))
        if not os.path.exists(path):
            log.debug("%s:%s: include file %s not found; skipped", where[0], where[1], path)
            return
        self.read_file(path, section, where)

    def scriptinc(self, script, args, where, section):
        if not self.commands_allowed(section):
            return
        path = os.path.join(os.path.dirname(os.path.abspath(where[0])), script)
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            self.warn(f"{where[0]}:{where[1]}: scriptinc {path} is missing or not executable; skipped")
            return
        out, code = _run_capped(["/bin/sh", "-c", shlex.quote(path) + args], self.environ, self.cwd)
        if out is None:
            raise MtError(f"scriptinc {path} printed more than {MAX_CONFIG_BYTES // (1024 * 1024)} MB "
                          "(the limit of a config file); stopped", *where)
        if code != 0:
            self.warn(f"{where[0]}:{where[1]}: scriptinc {path} exited with code {code}")
        self.parse_text(out.decode("utf-8", errors="replace"), path, section)

    # -- #{…} helpers -------------------------------------------------------------------------

    def expand(self, line, where, section, comment=False):
        """Expand the rightmost brace-free helper, repeatedly; unknown helpers stay as written
        (with a warning, except on a comment line); an unclosed "#{" is an error."""
        while True:
            matches = list(_HELPER.finditer(line))
            if not matches:
                if "#{" in line and not comment:
                    start = line.index("#{")
                    raise MtError(f"unclosed helper {line[start:start + 40]!r} (missing '}}')", *where)
                return line.replace(_HIDDEN, "#{")
            m = matches[-1]
            result = self.helper(m.group(1), where, section, comment)
            if result is None:
                result = m.group(0)  # hidden below like any result, so it stays literal
            line = line[:m.start()] + result.replace("#{", _HIDDEN) + line[m.end():]

    def helper(self, body, where, section, comment=False):
        """The text of one helper, or None when it is not a helper this parser runs."""
        name, args = (body.split(None, 1) + ["", ""])[:2]
        args = args.strip()
        if name in _COMMAND_HELPERS and not self.commands_allowed(section):
            return None
        method = _HELPERS.get(name)
        if method is None:
            if not comment:
                self.warn(f"{where[0]}:{where[1]}: unknown helper #{{{body}}} kept as text")
            return None
        if name in _COMMAND_HELPERS:
            self.line_unset.update(v for v in _SHELL_VAR.findall(args) if v not in self.environ)
        return method(self, args, where)

    def h_scheme(self, args, where):
        from megatest.config import scheme
        ctx = scheme.SchemeContext(
            environ=self.environ, args=self.scheme_args or _scheme_args(self.environ), toppath=self.toppath,
            tests=self.tests,
            hostname=os.uname().nodename, dbfile_path=self.live_dir(),
            make_directory=lambda path: _make_directory(path, where, self.warn))
        try:
            return scheme.evaluate(args, ctx)
        except scheme.SchemeError as err:
            if not str(err).startswith("error in '"):
                raise MtError(f"#{{scheme ...}}: {err}", *where) from None
            # a supported procedure refused its arguments while running (string-upcase of an
            # unset variable's #f): Megatest warns and goes on, and so does this
            self.warn(f"{where[0]}:{where[1]}: warning: #{{scheme ...}}: {err}; using \"\"")
            return ""

    def h_shell(self, args, where):
        text, code = run_system(args, self.environ, self.cwd)
        if code != 0:
            self.warn(f"{where[0]}:{where[1]}: #{{shell {args}}} exited with code {code}; using \"\"")
            return ""
        return text

    def h_system(self, args, where):
        proc = subprocess.run(["/bin/sh", "-c", args], env=dict(self.environ), cwd=self.cwd,
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return str(proc.returncode)

    def live_dir(self):
        """Where the live database is kept: what `(db:dbfile-path)` answers."""
        from megatest.config.area import Area
        dbdir = self.cfg.sections.get("setup", {}).get("dbdir", "").strip() or None
        return Area(self.toppath).live_dir(self.environ, dbdir)

    def h_getenv(self, args, where):
        if args not in self.environ:
            self.line_unset.add(args)
        return self.environ.get(args, "")

    def h_get(self, args, where):
        parts = args.split()
        if len(parts) == 2 and parts[1] in self.cfg.sections.get(parts[0], {}):
            return self.cfg.sections[parts[0]][parts[1]]
        self.warn(f"{where[0]}:{where[1]}: #{{get {args}}}: not defined before this line; using \"\"")
        return ""

    def h_rget(self, args, where):
        if self.runconfig_mode:
            sources = [self.cfg.sections.get(self.target, {}), self.cfg.sections.get("default", {})]
        else:
            sources = [self.runconfig or {}]
        for source in sources:
            if args in source:
                return source[args]
        self.warn(f"{where[0]}:{where[1]}: #{{rget {args}}}: runconfig variable not defined; using \"\"")
        return ""

    def h_mtrah(self, args, where):
        return os.path.join(self.toppath, args) if args else self.toppath

    def h_realpath(self, args, where):
        base = os.path.dirname(os.path.abspath(where[0]))
        return os.path.realpath(os.path.join(base, os.path.expanduser(args)))


_HELPERS = {
    "shell": _Parser.h_shell, "sh": _Parser.h_shell, "system": _Parser.h_system,
    "getenv": _Parser.h_getenv, "gv": _Parser.h_getenv, "get": _Parser.h_get, "g": _Parser.h_get,
    "rget": _Parser.h_rget, "runconfigs-get": _Parser.h_rget, "mtrah": _Parser.h_mtrah,
    "rp": _Parser.h_realpath, "realpath": _Parser.h_realpath,
    "scheme": _Parser.h_scheme, "scm": _Parser.h_scheme,
}


def _scheme_args(environ):
    """What `(args:get-arg ...)` sees: the switches Megatest would have been given, from the
    variables this project sets before any config is read."""
    names = {"-target": "MT_TARGET", "-reqtarg": "MT_TARGET", "-runname": "MT_RUNNAME"}
    return {arg: environ[var] for arg, var in names.items() if environ.get(var)}


def top_level_dir(path):
    """True for a directory directly under "/" (what an unset variable turns `$X/runs` into)."""
    norm = os.path.normpath(os.path.abspath(path))
    return os.path.dirname(norm) == "/" and norm != "/"


def _make_directory(path, where, warn):
    """create-directory of #{scheme}: never a new directory directly under /."""
    if top_level_dir(path) and not os.path.isdir(path):
        warn(f"{where[0]}:{where[1]}: not creating {os.path.normpath(path)} at the top of the file "
             "system (an unset variable?)")
        return
    os.makedirs(path, exist_ok=True)


def _read(path, toppath, environ, runconfig, defer_system_in, warn, precreate, target, runconfig_mode,
          **hooks):
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MtError("config file not found", path)
    parser = _Parser(os.fspath(toppath), environ, runconfig, defer_system_in, warn, target, runconfig_mode,
                     **hooks)
    for name in precreate:
        parser.cfg.sections.setdefault(name, {})
    parser.read_file(path, "default")
    parser.cfg.environ = parser.environ
    return parser.cfg


def read_config(path, *, toppath, environ=None, runconfig=None, defer_system_in=(), warn=None,
                precreate=(), target=None, export_sections=(), on_fields=None, scheme_args=None,
                tests=None):
    """Read one config file (and what it includes). `target` set = reading runconfigs.config for that target.

    export_sections: sections whose values are shell-evaluated and exported as they are read
    (megatest.config's [env-override]); on_fields(keys) -> {var: value} runs when [fields]
    ends. The resulting environment is the Config's `environ`. scheme_args ({"-testpatt": ...})
    and tests (() -> {name: dir}) are what #{scheme} sees of the command line and the area."""
    return _read(path, toppath, environ, runconfig, defer_system_in, warn, precreate, target,
                 runconfig_mode=target is not None, export_sections=export_sections,
                 on_fields=on_fields, scheme_args=scheme_args, tests=tests)


def read_runconfig(path, target, *, toppath, environ=None, warn=None):
    """Raw variables of `target`: [default] overridden by [target] (templates merged); {} if the file is missing."""
    if not os.path.isfile(os.fspath(path)):
        (warn or _default_warn)(f"{os.fspath(path)}: no runconfigs file; no per-target variables")
        return {}
    cfg = read_config(path, toppath=toppath, environ=environ, warn=warn, precreate=(target,), target=target)
    result = cfg.section("default")
    result.update(cfg.section(target))
    return result


def list_targets(path, *, toppath, environ=None, warn=None):
    """Concrete target sections of runconfigs.config, sorted (not [default], not templates)."""
    cfg = _read(path, toppath, environ, None, (), warn, (), None, runconfig_mode=True)
    return sorted(name for name in cfg.sections if name != "default" and not _is_template(name))
