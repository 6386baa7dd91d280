"""The identity of a running test, carried from the runner to `mt-test` through MT_* variables.

MT_CMDINFO is an opaque token (base64 of a `|`-joined record) so that `mt-test` finds its
database row without any lookup; the plain MT_* names are the fallback.
"""
import binascii
import os

from megatest.errors import MtError

CMDINFO_VERSION = "mt1"
FIELDS = ("toppath", "target", "runname", "testname", "item_path", "db_path", "run_id", "test_id",
          "rundir")


class TestIdentity:
    """Who a test is. A plain class, not a dataclass: importing dataclasses costs `mt-test` 9 ms."""
    __slots__ = FIELDS

    def __init__(self, toppath, target, runname, testname, item_path, db_path="", run_id=0,
                 test_id=0, rundir=""):
        for name, value in zip(FIELDS, (toppath, target, runname, testname, item_path, db_path,
                                        run_id, test_id, rundir)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("TestIdentity is read-only")

    def __eq__(self, other):
        return isinstance(other, TestIdentity) and all(
            getattr(self, f) == getattr(other, f) for f in FIELDS)

    def __repr__(self):
        return "TestIdentity(" + ", ".join(f"{f}={getattr(self, f)!r}" for f in FIELDS) + ")"


def encode_cmdinfo(ident):
    fields = [CMDINFO_VERSION, str(ident.run_id), str(ident.test_id), ident.db_path, ident.rundir,
              ident.toppath, ident.target, ident.runname, ident.testname, ident.item_path]
    if any("\x1f" in f for f in fields):
        raise MtError("identity fields may not contain the unit separator character")
    return binascii.b2a_base64("\x1f".join(fields).encode(), newline=False).decode()


def decode_cmdinfo(token):
    try:
        fields = binascii.a2b_base64(token.encode(), strict_mode=True).decode().split("\x1f")
    except (ValueError, binascii.Error):
        raise MtError("MT_CMDINFO is not a token written by mt-run") from None
    if len(fields) != 10 or fields[0] != CMDINFO_VERSION:
        raise MtError("MT_CMDINFO is not a token written by this version of mt-run")
    _, run_id, test_id, db_path, rundir, toppath, target, runname, testname, item_path = fields
    return TestIdentity(toppath, target, runname, testname, item_path, db_path,
                        int(run_id), int(test_id), rundir)


def identity_from_env(environ=None):
    """The calling test's identity, or MtError when not called from inside a test."""
    environ = os.environ if environ is None else environ
    token = environ.get("MT_CMDINFO")
    if token:
        return decode_cmdinfo(token)
    needed = ("MT_RUN_AREA_HOME", "MT_TARGET", "MT_RUNNAME", "MT_TEST_NAME")
    missing = [n for n in needed if not environ.get(n)]
    if missing:
        raise MtError("not inside a test: " + ", ".join(missing) + " not set",
                      hint="mt-test is called by a test's steps or runscript that mt-run started")
    return TestIdentity(environ["MT_RUN_AREA_HOME"], environ["MT_TARGET"], environ["MT_RUNNAME"],
                        environ["MT_TEST_NAME"], environ.get("MT_ITEMPATH", ""),
                        rundir=environ.get("MT_TEST_RUN_DIR", ""))
