"""Finding the test area and the paths that belong to it (databases, state directory)."""
import hashlib
import os
import pwd
from dataclasses import dataclass

from megatest.errors import MtError

CONFIG_NAME = "megatest.config"


@dataclass(frozen=True)
class Area:
    toppath: str

    @property
    def config_path(self):
        return os.path.join(self.toppath, CONFIG_NAME)

    @property
    def runconfig_path(self):
        return os.path.join(self.toppath, "runconfigs.config")

    @property
    def state_dir(self):
        """Per-area state kept on the shared disk (homehost, token, server.json)."""
        return os.path.join(self.toppath, ".mt")

    @property
    def shared_db_path(self):
        return os.path.join(self.toppath, "megatest.db")

    @property
    def area_id(self):
        digest = hashlib.sha1(self.toppath.encode()).hexdigest()[:10]
        return f"{os.path.basename(self.toppath)}-{digest}"

    def live_dir(self, environ=None, dbdir=None):
        """Directory of the live database on this host's local disk."""
        environ = os.environ if environ is None else environ
        base = dbdir or environ.get("MT_TMPDIR") or "/tmp"
        return os.path.join(base, f"mt-{user_name(environ)}", self.area_id)

    def live_db_path(self, environ=None, dbdir=None):
        return os.path.join(self.live_dir(environ, dbdir), "megatest.db")


def user_name(environ=None):
    environ = os.environ if environ is None else environ
    name = environ.get("USER") or environ.get("LOGNAME")
    if name:
        return name
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return str(os.getuid())


def find_area(area_opt=None, environ=None, cwd=None):
    """--area DIR, then $MT_RUN_AREA_HOME, then the nearest megatest.config upward."""
    environ = os.environ if environ is None else environ
    if area_opt:
        return _checked(area_opt, "--area")
    if environ.get("MT_RUN_AREA_HOME"):
        return _checked(environ["MT_RUN_AREA_HOME"], "$MT_RUN_AREA_HOME")
    start = os.path.abspath(cwd or os.getcwd())
    here = start
    while True:
        if os.path.isfile(os.path.join(here, CONFIG_NAME)):
            return Area(os.path.realpath(here))
        parent = os.path.dirname(here)
        if parent == here:
            raise MtError(f"no {CONFIG_NAME} found in {start} or any directory above it",
                          hint="mt-init area DIR --keys KEY1/KEY2, or pass --area DIR")
        here = parent


def _checked(path, origin):
    """The area named by PATH; the path of a file in it (`DIR/megatest.config`, pasted from an
    error message or completed by the shell) names its directory."""
    top = os.path.abspath(path)
    if os.path.isfile(top):
        top = os.path.dirname(top)      # before realpath: a linked megatest.config names this area
    top = os.path.realpath(top)
    if not os.path.isdir(top):
        raise MtError(f"test area {path} (from {origin}) does not exist")
    if not os.path.isfile(os.path.join(top, CONFIG_NAME)):
        raise MtError(f"{path} (from {origin}) has no {CONFIG_NAME}")
    return Area(top)
