"""What mt-serve accepts on the wire: a JSON body parsed with limits, and each call's parameters
checked against a typed schema before the call runs.

Why at the edge: the operations (testops, execops, actions) trust their parameters to be the
types mt-test and mt-exec send. A request from anything else (a script, a fuzzer, a broken
client) with an integer beyond SQLite's 64 bits, a float where an id goes or an object where a
comment goes used to raise deep inside a call, outside what the server turned into a reply,
and the client saw its connection dropped. Here every such request gets one readable 400.
"""
import json
import re

MAX_DEPTH = 32                      # JSON nesting a body may have; our calls need 4
INT64 = (-2 ** 63, 2 ** 63 - 1)     # what SQLite stores as an integer
SHOWN_CHARS = 40                    # a wrong value is quoted up to this length in a message

_STRING = re.compile(rb'"[^"]*"')             # linear: escapes are gone when it runs
_PARENS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKET = bytes(set(range(256)) - set(b"[]{}"))


class BadRequest(ValueError):
    """The body or its parameters are not what the server accepts: the reply is 400."""


# ---------------------------------------------------------------- the schema

# A field is "kind" (required) or "kind?" (may be absent or null). Unknown fields are ignored,
# so that a newer client can send more to an older server.
TEST_REF = {"id": "int?", "target": "text?", "runname": "text?", "testname": "text?",
            "item_path": "text?"}
TEST_NAMES = ("target", "runname", "testname")       # what names a record that has no id
DATA_ROW = {c: "text?" for c in ("category", "variable", "value", "expected", "tol", "units",
                                 "comment", "status", "type")}
RUN_PARAMS = {"rerun": "text?", "rerun_all": "bool?", "rerun_clean": "bool?"}

PARAMS = {
    "ping": {},
    "queue": {"action": "text", "target": "text", "runname": "text", "testpatt": "text?",
              "params": "run-params?", "request": "text?"},
    "status": {"test": "test", "state": "text", "status": "text", "comment": "text?"},
    "step": {"test": "test", "name": "text", "state": "text", "status": "text?",
             "comment": "text?", "logfile": "text?", "rows": "rows?", "final": "bool?"},
    "data": {"test": "test", "rows": "rows"},
    "setlog": {"test": "test", "path": "text", "comment": "text?"},
    "toplog": {"test": "test", "path": "text"},
    "comment": {"test": "test", "comment": "text"},
    "show": {"test": "test"},
    "heartbeat": {"test": "test"},
    "exec-start": {"test": "test", "host": "text?", "pid": "int?", "uname": "text?",
                   "job_id": "text?"},
    "exec-finish": {"test": "test", "rundir": "text?", "killed": "text?", "comment": "text?"},
    "exec-beat": {"test": "test"},
}


def check(cmd, params):
    """BadRequest naming the first parameter of CMD that is missing or of the wrong type."""
    try:
        _check_object(params, PARAMS[cmd], "")
    except BadRequest as err:
        raise BadRequest(f"bad params for {cmd}: {err}") from None


def _check_object(value, schema, prefix):
    for name, kind in schema.items():
        where = prefix + name
        given = value.get(name)
        if given is None:
            if not kind.endswith("?"):
                raise BadRequest(f"missing {where!r}")
            continue
        _CHECKS[kind.rstrip("?")](given, where)


def _text(value, where):
    if not isinstance(value, str):
        _wrong("text", value, where)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"expected text, got a lone UTF-16 surrogate for {where!r}") from None


def _int(value, where):
    if type(value) is not int or not INT64[0] <= value <= INT64[1]:
        _wrong("an integer within SQLite's 64-bit range", value, where)


def _bool(value, where):
    if not isinstance(value, bool):
        _wrong("true or false", value, where)


def _object(schema):
    def check_one(value, where):
        if not isinstance(value, dict):
            _wrong("an object", value, where)
        _check_object(value, schema, where + ".")
    return check_one


def _test(value, where):
    """The record a call is about: an id, or its target, runname and testname."""
    _object(TEST_REF)(value, where)
    if not value.get("id"):
        for name in TEST_NAMES:
            if value.get(name) is None:
                raise BadRequest(f"missing {where + '.' + name!r} (or {where + '.id'!r})")


def _rows(value, where):
    if not isinstance(value, list):
        _wrong("a list of objects", value, where)
    for n, row in enumerate(value):
        _object(DATA_ROW)(row, f"{where}[{n}]")


_CHECKS = {"text": _text, "int": _int, "bool": _bool, "test": _test, "rows": _rows,
           "run-params": _object(RUN_PARAMS)}
_JSON_TYPES = {dict: "object", list: "array", str: "text", bool: "true/false", type(None): "null"}


def _wrong(expected, value, where):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        shown = repr(value)
        got = shown if len(shown) <= SHOWN_CHARS else f"a number of {len(shown)} digits"
        got = f"{type(value).__name__} {got}"
    else:
        got = _JSON_TYPES.get(type(value), type(value).__name__)
    raise BadRequest(f"expected {expected}, got {got} for {where!r}")


# ---------------------------------------------------------------- the body

def parse(body):
    """{"cmd": str, "params": dict} from a request body; BadRequest saying what is wrong.

    The nesting is measured before json.loads (whose recursion a body of 200,000 `[` would
    exhaust), and NaN, Infinity and floats beyond the double range are refused: SQLite has no
    such values and JSON does not define them."""
    if _too_deep(body):
        raise BadRequest(f"malformed JSON: nested deeper than {MAX_DEPTH} levels")
    try:
        call = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError) as err:
        raise BadRequest(f"malformed JSON: {err}") from None
    except RecursionError:        # unbalanced and deep: json.loads recursed before it saw that
        raise BadRequest(f"malformed JSON: nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(call, dict) or not isinstance(call.get("cmd"), str):
        raise BadRequest('expected an object {"cmd": NAME, "params": {...}}')
    params = call.get("params", {})
    if not isinstance(params, dict):
        raise BadRequest("params must be an object")
    return {"cmd": call["cmd"], "params": params}


def _too_deep(body):
    """Is BODY nested deeper than MAX_DEPTH? Escapes and then strings are dropped, the
    brackets alone kept as `(` and `)`; then empty pairs `()` are removed MAX_DEPTH times:
    anything left is deeper. All of it is bytes.replace/translate and one regex without
    backtracking, so even a 4 MB body costs well under a second."""
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = _STRING.sub(b"", unescaped).translate(_PARENS, _NOT_BRACKET)
    if brackets.count(b"(") <= MAX_DEPTH:
        return False
    for _ in range(MAX_DEPTH):
        shorter = brackets.replace(b"()", b"")
        if shorter == brackets:
            return False       # none left, or unbalanced: json.loads says what is wrong
        brackets = shorter
    return bool(brackets)


def _no_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:SHOWN_CHARS]} is beyond the range of a double")
    return value
