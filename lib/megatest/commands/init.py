"""Create a new test area or a new test skeleton (mt-init), non-interactively.

Usage:
  mt-init area DIR --keys KEYS [--force]
  mt-init test NAME [--steps STEPS] [--waiton TESTS] [--items ITEMS] [--area DIR]
  mt-init (-h | --help)

Commands:
  area  write DIR/megatest.config ([fields], [setup], [jobtools], [env-override], [disks]),
        DIR/runconfigs.config with a [default] section, and the directories DIR/tests and
        DIR/runs-disk (the one disk). DIR is created when missing. An existing
        runconfigs.config and tests/ are never overwritten.
  test  write tests/NAME/testconfig in the area: [ezsteps], [requirements], [items] and
        [test_meta] (author: $USER, else the login name).

Options:
  --keys KEYS     the area's keys, in target order, joined by / (e.g. os/arch).
  --force         replace an existing megatest.config.
  --steps STEPS   ezsteps, separated by ; each "NAME COMMAND" (e.g. "build make;check make test").
                  A command cannot contain ; (put longer scripts in the test directory).
                  Default: one step that echoes a greeting.
  --waiton TESTS  the tests this one waits on, comma- or space-separated.
  --items ITEMS   item variables, separated by ; each "VAR v1 v2 ..." (e.g. "SIZE small large").
  --area DIR      the test area (else $MT_RUN_AREA_HOME, else the nearest megatest.config up).
  -h, --help      show this text.

The files written parse and run as they are: after `mt-init area D --keys a/b` and
`mt-init test hello --area D`, `mt-run --area D --target x/y --runname r1` passes.

Exit status: 0 written, 2 usage error, bad name, or the area or test already exists.
"""
import errno
import os
import re
import sys

from megatest.commands.cli import parse
from megatest.errors import MtError, UsageError

DISK_DIR = "runs-disk"
LINKTREE_DIR = "lt"
DEFAULT_STEP = ("hello", 'echo "hello from $MT_TEST_NAME $MT_ITEMPATH"')
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

AREA_CONFIG = """\
# megatest.config: the settings of this test area (written by mt-init).
#
# Quick start:
#   mt-init test NAME --steps "step1 COMMAND" --area {top}
#   mt-run  --area {top} --target {example} --runname r1
#   mt-list runs --area {top}
#
# A target is one value per key below, joined by / (e.g. --target {example}).

[fields]
{fields}
[setup]
# At most this many tests run at once, counted over every run of the area.
max_concurrent_jobs {max_jobs}
# Links to each test's run directory: <linktree>/<target>/<runname>/<test>[/<itempath>].
linktree #{{mtrah {linktree}}}

[jobtools]
# Words put in front of each test's launch command; without a launcher tests start here.
# launcher nbfake

[env-override]
# VAR VALUE: set for every test; values are shell-expanded, e.g.
# TOOLS $HOME/tools

[disks]
# Where run directories go; more disks may be added, the one with most free space is used.
disk0 #{{mtrah {disk}}}
"""

RUNCONFIG = """\
# runconfigs.config: variables per target (written by mt-init); every test of a run sees them.
# [default] applies to every target; [{example}] to one target; [{template}] (% = anything)
# to every target it matches. TESTPATT sets the default test pattern of a target.

[default]
# TESTPATT %
"""


def main(argv):
    try:
        args = parse(__doc__, argv)
    except UsageError:
        _explain_usage(argv)
        raise
    if args["area"]:
        return init_area(args["DIR"], args["--keys"], args["--force"])
    return init_test(args["NAME"], args["--steps"], args["--waiton"], args["--items"], args["--area"])


VALUE_OPTIONS = ("--keys", "--steps", "--waiton", "--items", "--area")


def _explain_usage(argv):
    """Say what is missing in the common cases, where docopt only reports 'unmatched' words."""
    words, i = [], 0
    while i < len(argv):
        if argv[i] in VALUE_OPTIONS:
            i += 1                              # skip the option's value
        elif not argv[i].startswith("-"):
            words.append(argv[i])
        i += 1
    kind = words[0] if words else None
    if kind not in ("area", "test"):
        what = f"unknown kind {kind!r}" if kind else "missing what to create"
        raise UsageError(f"{what}: expected area or test",
                         hint="mt-init area DIR --keys KEY1/KEY2   or   mt-init test NAME")
    if kind == "test" and len(words) < 2:
        raise UsageError("test: missing the test name", hint="mt-init test NAME [--steps ...]")
    if kind == "area" and not any(a == "--keys" or a.startswith("--keys=") for a in argv):
        raise UsageError(f"area {words[1] if len(words) > 1 else 'DIR'}: missing --keys KEY1/KEY2...",
                         hint="mt-init area DIR --keys os/arch")
    if kind == "area" and len(words) < 2 and argv[-1] != "--keys":
        raise UsageError("area: missing the directory", hint="mt-init area DIR --keys os/arch")


# ---------------------------------------------------------------- area

def init_area(directory, keys_text, force):
    keys = _keys(keys_text)
    top = os.path.realpath(directory)
    config_path = os.path.join(top, "megatest.config")
    if os.path.exists(config_path) and not force:
        raise MtError(f"{config_path} already exists", hint=f"mt-init area {directory} --keys {keys_text} --force")
    if os.path.exists(top) and not os.path.isdir(top):
        raise MtError(f"{directory} exists and is not a directory")
    created = []
    try:
        _make_dirs([top, os.path.join(top, "tests"), os.path.join(top, DISK_DIR)], created)
        written = _write_area_files(top, config_path, keys, created)
    except OSError as err:
        _undo(created)
        raise MtError(f"cannot create area {directory}: {_os_reason(err)}") from None
    for path in written:
        print(f"wrote {path}")
    print(f"next: mt-init test NAME --area {top}")
    return 0


def _write_area_files(top, config_path, keys, created):
    """runconfigs.config (when missing) first, megatest.config last: a failure before the end
    leaves no file that makes DIR look like an area (created lists what to undo)."""
    example = "/".join(f"{k}1" for k in keys)
    runconfig_path = os.path.join(top, "runconfigs.config")
    written = []
    if not os.path.exists(runconfig_path):
        template = "/".join([f"{keys[0]}1"] + ["%"] * (len(keys) - 1)) if len(keys) > 1 else "%1"
        _write_new(runconfig_path, RUNCONFIG.format(example=example, template=template), created)
        written.append(runconfig_path)
    _write_new(config_path, AREA_CONFIG.format(
        top=top, example=example, fields="".join(f"{k} TEXT\n" for k in keys),
        max_jobs=os.cpu_count() or 1, linktree=LINKTREE_DIR, disk=DISK_DIR), created)
    return [config_path] + written


# ---------------------------------------------------------------- all or nothing

def _make_dirs(paths, created):
    """Create each missing directory (and missing parents), noting each one in created.
    A parent that is a file is refused before anything is made."""
    for path in paths:
        missing = []
        while not os.path.lexists(path):
            missing.append(path)
            path = os.path.dirname(path)
        if not os.path.isdir(path):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
        for new in reversed(missing):
            os.mkdir(new)
            created.append(new)


def _write_new(path, text, created):
    """Write path atomically; note it in created when it did not exist before."""
    from megatest.fsutil import write_atomic
    existed = os.path.lexists(path)
    try:
        write_atomic(path, text)
    except OSError as err:
        err.filename = err.filename or path          # a failed write() names no file
        raise
    if not existed:
        created.append(path)


def _undo(created):
    """Remove what this command created, newest first, so a failure leaves nothing behind."""
    for path in reversed(created):
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            pass


def _os_reason(err):
    """'PATH: reason' of an OSError, lower case as in the other error lines (a rename's
    target, not its temp file)."""
    reason = (err.strerror or str(err)).lower()
    path = err.filename2 or err.filename
    return f"{os.path.normpath(path)}: {reason}" if path else reason


def _keys(text):
    """Key names from KEY1/KEY2..., checked as megatest.config's [fields] will be."""
    from megatest.config.settings import KEY_NAME, RESERVED_KEYS
    keys = [k.strip() for k in (text or "").split("/")]
    if not keys or not all(keys):
        raise UsageError(f"--keys {text!r}: give key names joined by /, none empty (e.g. os/arch)")
    for key in keys:
        if not KEY_NAME.match(key):
            raise UsageError(f"--keys: key name {key!r} must be a plain identifier (letters, digits, _)")
        if key.lower() in RESERVED_KEYS:
            raise UsageError(f"--keys: key name {key!r} is reserved (used by the runs table)")
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise UsageError(f"--keys: key {duplicates[0]!r} is given twice")
    return keys


# ---------------------------------------------------------------- test

def init_test(name, steps_text, waiton_text, items_text, area_opt):
    from megatest.config.area import find_area, user_name
    _check_test_name(name, "test name")
    area = find_area(area_opt)
    steps = _steps(steps_text) if steps_text is not None else [DEFAULT_STEP]
    waitons = _waitons(waiton_text, name)
    items = _items(items_text)
    test_dir = os.path.join(area.toppath, "tests", name)
    known = _known_tests(area)
    existing = os.path.join(known.get(name, test_dir), "testconfig")
    if os.path.exists(existing):
        raise MtError(f"test {name} already exists: {existing}",
                      hint="choose another name, or edit that testconfig")
    unknown = [w for w in waitons if w not in known]
    if unknown:
        sys.stderr.write(f"mt-init: warning: waiton {' '.join(unknown)}: no such test in the area yet\n")
    path = os.path.join(test_dir, "testconfig")
    created = []
    try:
        _make_dirs([test_dir], created)
        _write_new(path, testconfig_text(name, steps, waitons, items, user_name()), created)
    except OSError as err:
        _undo(created)
        raise MtError(f"cannot create test {name}: {_os_reason(err)}") from None
    print(f"wrote {path}")
    return 0


def testconfig_text(name, steps, waitons, items, author):
    lines = [f"# testconfig of test {name} (written by mt-init).", "",
             "# Steps run in order by bash in the test's run directory; a non-zero exit fails the test.",
             "[ezsteps]"]
    lines += [f"{step} {command}" for step, command in steps]
    lines += ["", "[requirements]",
              f"waiton {' '.join(waitons)}" if waitons else "# waiton OTHERTEST ...",
              "# priority 0", "# runtimelim 1h", "",
              "# Iterate: one record per combination of values (cross product).", "[items]"]
    lines += [f"{var} {' '.join(values)}" for var, values in items] or ["# VAR value1 value2"]
    lines += ["", "[test_meta]", f"author {author}", f"owner {author}",
              f"description test {name}", "tags", ""]
    return "\n".join(lines)


def _check_test_name(name, what):
    from megatest.config.testdefs import BAD_NAME
    if not name or BAD_NAME.search(name) or name.startswith("."):
        raise UsageError(f"{what} {name!r} may not be empty, start with '.', or contain "
                         f"whitespace or / , % * ~ ( )")


def _steps(text):
    steps = []
    for part in text.split(";"):
        if not part.strip():
            continue
        step, _, command = part.strip().partition(" ")
        _check_test_name(step, "--steps: step name")
        if not command.strip():
            raise UsageError(f"--steps: step {step!r} has no command (expected \"NAME COMMAND;...\")")
        if any(s == step for s, _ in steps):
            raise UsageError(f"--steps: step {step!r} is given twice")
        steps.append((step, command.strip()))
    if not steps:
        raise UsageError(f"--steps {text!r}: expected \"NAME COMMAND;NAME COMMAND...\"")
    return steps


def _waitons(text, name):
    waitons = []
    for word in (text or "").replace(",", " ").split():
        _check_test_name(word, "--waiton: test name")
        if word == name:
            raise UsageError(f"--waiton: test {name} cannot wait on itself")
        if word not in waitons:
            waitons.append(word)
    return waitons


def _items(text):
    from megatest.config.items import check_item_value
    items = []
    for part in (text or "").split(";"):
        words = part.split()
        if not words:
            continue
        var, values = words[0], words[1:]
        if not VAR_NAME.match(var):
            raise UsageError(f"--items: variable name {var!r} must be a plain identifier")
        if not values:
            raise UsageError(f"--items: variable {var} has no values (expected \"VAR v1 v2...\")")
        for value in values:
            try:
                check_item_value(var, value)
            except MtError as err:
                raise UsageError(f"--items: {err.message}", hint=err.hint) from None
        items.append((var, values))
    return items


def _known_tests(area):
    from megatest.config.settings import load_settings
    from megatest.config.testdefs import discover_tests
    return discover_tests(area, load_settings(area).tests_paths)

