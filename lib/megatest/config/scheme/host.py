"""The procedures that reach outside the expression: the environment, Megatest's arguments and
paths, and the three file-system checks and effects #{scheme} is allowed, plus Megatest's own
helpers over their results. Everything comes from the SchemeContext; nothing here runs a
command or reads a file's contents."""
import os
import pwd

from megatest.config.scheme.checks import string_arg
from megatest.config.scheme.data import UNSPECIFIED, HashTable, list_items, make_list, registrar
from megatest.config.scheme.errors import ProcError
from megatest.config.scheme.lists import delete_duplicates
from megatest.config.scheme.printer import to_text
from megatest.config.scheme.strings import string_intersperse, string_split

PROCEDURES = {}
procedure = registrar(PROCEDURES)


@procedure("get-environment-variable", 1)
def get_environment_variable(rt, name):
    return rt.ctx.environ.get(string_arg(name), False)


@procedure("setenv", 2)
def setenv(rt, name, value):
    rt.ctx.environ[string_arg(name)] = string_arg(value)
    return UNSPECIFIED


@procedure("unsetenv", 1)
def unsetenv(rt, name):
    rt.ctx.environ.pop(string_arg(name), None)
    return UNSPECIFIED


PROCEDURES["getenv"] = PROCEDURES["get-environment-variable"]
PROCEDURES["set-environment-variable!"] = PROCEDURES["setenv"]
PROCEDURES["unset-environment-variable!"] = PROCEDURES["unsetenv"]


@procedure("args:get-arg", 1, 2)
def get_arg(rt, switch, default=False):
    """Megatest's (margs.scm): the value given to a switch like "-target", else DEFAULT (#f)."""
    value = rt.ctx.args.get(switch, default) if isinstance(switch, str) else default
    return False if value is None else value


@procedure("get-host-name", 0)
def get_host_name(rt):
    return rt.ctx.hostname


@procedure("db:dbfile-path", 0, None)
def dbfile_path(rt, *ignored):
    """Megatest ignores its arguments and answers the directory of the live database."""
    return rt.ctx.dbfile_path


@procedure("create-directory", 1, 2)
def create_directory(rt, path, parents=False):
    """CHICKEN's: make PATH (and with #t its parents, an existing one being fine); answers PATH."""
    string_arg(path)
    try:
        if rt.ctx.make_directory is not None:
            rt.ctx.make_directory(path)
        elif parents is not False:
            os.makedirs(path, exist_ok=True)
        else:
            os.mkdir(path)
    except (OSError, ValueError) as err:
        raise ProcError(f"cannot create directory {path}: {getattr(err, 'strerror', None) or err}") from None
    return path


def _exists(test):
    """CHICKEN 4's file-exists? and directory-exists? answer the path itself when true."""
    def exists(rt, path):
        try:
            return path if test(string_arg(path)) else False
        except ValueError:          # a NUL byte in the path
            return False
    return exists


procedure("file-exists?", 1)(_exists(os.path.exists))
procedure("directory-exists?", 1)(_exists(os.path.isdir))


@procedure("directory?", 1)
def is_directory(rt, path):
    return _exists(os.path.isdir)(rt, path) is not False


@procedure("nice-path", 1)
def nice_path(rt, path):
    """Megatest's common:nice-path: ~ and ~user expanded (links in the home path resolved, as
    readlink -f does), made absolute from the area's top, then normalized as CHICKEN does."""
    rt.charge_text(len(string_arg(path)))
    if path.startswith("~"):
        user, slash, rest = path[1:].partition("/")
        path = _home(rt, user) + "/" + rest
    if not path.startswith("/"):
        path = (rt.ctx.toppath or os.getcwd()) + "/" + path
    return normalize_pathname(path)


PROCEDURES["common:nice-path"] = PROCEDURES["nice-path"]


def _home(rt, user):
    try:
        home = pwd.getpwnam(user).pw_dir if user else rt.ctx.environ.get("HOME", "")
    except (KeyError, ValueError):
        return "~" + user          # readlink fails and Megatest keeps the text
    return os.path.realpath(home) if home else home


def normalize_pathname(path):
    """CHICKEN's normalize-pathname: drop '.' and empty parts, let '..' cancel the part before it
    (a leading '..' stays), and keep a trailing '/'."""
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(part)
    absolute, trailing = path.startswith("/"), path.endswith("/") and len(path) > 1
    text = "/".join(parts)
    if not parts:
        return "/" if absolute else "."
    return ("/" if absolute else "") + text + ("/" if trailing else "")


@procedure("env:min-path", 2)
def min_path(rt, first, second):
    """Megatest's (env.scm, written into configs by -envdelta): two PATH values merged, the
    first occurrence of each directory kept."""
    parts = list_items(string_split(rt, first, ":")) + list_items(string_split(rt, second, ":"))
    return string_intersperse(rt, delete_duplicates(rt, make_list(parts)), ":")


@procedure("tests:get-all", 0)
def tests_get_all(rt):
    """Megatest's table of the area's tests, name -> directory."""
    if rt.ctx.tests is None:
        raise ProcError("the area's tests are not known while this file is read")
    return HashTable(rt.ctx.tests())


@procedure("hash-table-keys", 1)
def hash_table_keys(rt, table):
    return make_list(sorted(_table(table)))


@procedure("hash-table-ref/default", 3)
def hash_table_ref_default(rt, table, key, default):
    return _table(table).get(key, default)


def _table(value):
    if not isinstance(value, HashTable):
        raise ProcError(f"expected a hash table, got {to_text(value, write=True)}")
    return value.table


@procedure("tests:filter-test-names", 2)
def filter_test_names(rt, names, patt):
    """Megatest's: the names whose test part matches the test pattern list PATT (item parts ignored)."""
    from megatest.config.patterns import match_part, split_elements
    parts = [test for test, _ in split_elements(string_arg(patt))]
    return make_list([n for n in list_items(names)
                      if isinstance(n, str) and any(match_part(p, n) for p in parts)])
