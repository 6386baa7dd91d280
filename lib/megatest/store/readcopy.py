"""Where bulk reads (mt-list, reports) come from: never the server, never blocking a writer.

On the home host: the live database. Elsewhere: a local copy of the shared megatest.db in
<tmp>, refreshed when megatest.db's mtime is newer than the copy's minus a margin (the road
map's rule: a copy that is a little too often refreshed costs less than a stale answer).
"""
import os
import sqlite3
import threading

from megatest.errors import MtError
from megatest.store import homehost

REFRESH_MARGIN = 2.0      # s: refresh when megatest.db is newer than the copy minus this


def path_for_reading(area, settings, environ=None):
    """The database file a read should open, or None when there is none yet."""
    home = homehost.home_host(area, settings)
    live = settings.live_db_path(environ)
    if homehost.is_home(home) and os.path.exists(live):
        return live
    shared = area.shared_db_path
    if not os.path.exists(shared):
        return live if os.path.exists(live) else None
    if homehost.is_home(home):
        return shared
    return refreshed_copy(shared, os.path.join(area.live_dir(environ, settings.dbdir or None),
                                               "readcopy.db"))


def refreshed_copy(shared, copy):
    """The local copy of shared, refreshed first when shared changed since it was made."""
    try:
        stale = os.path.getmtime(shared) > os.path.getmtime(copy) - REFRESH_MARGIN
    except OSError:
        stale = True
    if stale:
        # one name per thread: mt-serve's dashboard refreshes from several threads at once
        tmp = f"{copy}.tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            _backup(shared, tmp)
            os.replace(tmp, copy)
        except (sqlite3.Error, OSError) as err:
            _remove(tmp)                    # no half copy left in the live directory
            from megatest.store.sync import failure_reason
            raise MtError(f"cannot copy {shared} for reading to {copy}: "
                          f"{failure_reason(err, copy)}") from None
    return copy


def _backup(shared, tmp):
    src = sqlite3.connect(f"file:{shared}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
