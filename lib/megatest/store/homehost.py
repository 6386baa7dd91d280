"""The one host that owns an area's live database: [server] homehost, else the first writer's."""
import os
import socket

from megatest.errors import MtError
from megatest.fsutil import create_exclusive

HOMEHOST_FILE = "homehost"


def this_host():
    return socket.gethostname()


def recorded_path(area):
    return os.path.join(area.state_dir, HOMEHOST_FILE)


def home_host(area, settings, claim=False):
    """The home host's name; with claim, the first writer records itself (O_EXCL, race-free)."""
    configured = (settings.config.get("server", "homehost") or "").strip()
    if configured:
        return configured
    path = recorded_path(area)
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    if not claim:
        return ""
    try:
        os.makedirs(area.state_dir, exist_ok=True)
        return create_exclusive(path, this_host() + "\n").strip()
    except OSError as err:
        raise MtError(f"cannot record this host as the area's home host in {path}: "
                      f"{err.strerror or err}",
                      hint="the first run records it in the area's .mt/: make the area writable "
                           "there (or name the home host with [server] homehost)") from None


def is_home(name):
    """Is `name` this host? Short names compare equal to their fully qualified forms."""
    if not name:
        return True
    me = this_host()
    return name == me or name.split(".")[0] == me.split(".")[0] or name in ("localhost", "127.0.0.1")


def require_home(area, settings, prog):
    home = home_host(area, settings)
    if home and not is_home(home):
        raise MtError(f"{prog} runs on the area's home host {home}, and this is {this_host()}",
                      hint=f"run it on {home} (ssh {home} {prog} --area {area.toppath})")


def away_note(area, settings, prog):
    """The one line a command prints when started off the home host, or ""."""
    home = home_host(area, settings)
    if home and not is_home(home):
        return (f"{prog}: note: this area's home host is {home}; this host ({this_host()}) "
                "reads the shared megatest.db and reaches the live database through mt-serve")
    return ""
