"""Archiving finished runs into one compressed file each, and bringing them back
(mt-clean --archive, --keep-runs and --restore; issue 11 §5).

An archive is DIR/<area id>__<target, / as _>__<runname>__<run id>[-N].tar.gz (N counts the
run's earlier archives): a gzip'd tar of the selected records' directories, each stored under
its path below its disk, `<target>/<runname>/<test>[/<itempath>]`, which is also its path
in the link tree. The records stay, with their state and status, marked archived
(store/archived.py); a restore puts each directory back where its record says it was.

Archiving a run, in an order a kill cannot spoil: (1) the archive is written under a temp
name in DIR, fsynced and renamed; (2) one transaction adds its row (`archiving`) and marks
the records; (3) each directory is renamed aside (`.mt-archived-<id>-<name>` beside it: whole
or gone, never half deleted), its link removed and the renamed copy deleted, and the row
becomes `archived`. A rerun after a kill in (1) or before (2) writes the archive again (the
same name); after (2) it finishes (3).

Restoring: every member is checked before anything is written (a relative path without
`..`, inside the archived records' directories, a file, directory or link; a symlink must
point inside the run, a hard link inside the archive, and nothing lies under a symlink),
then extracted with tarfile's data filter. Every destination must be missing or an empty
directory. The row becomes `restoring`, each directory is unpacked into a staging directory
beside its destination (`.mt-restore-<id>-<name>`) and renamed into place, the links are made again, and one transaction clears
the marks (row `restored`). The archive file is kept. A rerun after a kill keeps the
directories already in place and unpacks the rest.
"""
import os
import posixpath
import shutil
import tarfile
import zlib
from dataclasses import dataclass, field

from megatest import fsutil, states
from megatest.config.patterns import compile_testpatt
from megatest.errors import MtError
from megatest.launch import direct, rundir
from megatest.store import archived, db, locks

SUFFIX = ".tar.gz"
COMPRESSLEVEL = 6
TRASH = ".mt-archived-"            # <id>-<name>: a directory on its way out, beside it
STAGING = ".mt-restore-"           # <id>-<name>: a directory on its way back, beside it
BUSY_STATES = states.RUNNING_STATES | states.TRANSIENT_STATES | {states.ARCHIVE_REMOVING}
STORAGE_ERRNOS = db.STORAGE_ERRNOS
# tarfile's data filter (Python 3.12, and 3.8.17+ ... 3.11.4+); our own checks come first.
EXTRACT_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


@dataclass
class Result:
    """What became of one run: `done` (archived, finished, restored), else `skipped` (a
    note) or `failed` (why: the user's to look at). `stop`: the archive directory refused a
    write, so the next runs would fail too."""
    done: str = ""
    skipped: str = ""
    failed: str = ""
    stop: bool = False
    path: str = ""
    records: int = 0
    dirs: int = 0
    size: int = 0
    left_out: list = field(default_factory=list)    # symlinks pointing outside the run


@dataclass(frozen=True)
class Unit:
    """A directory an archive holds: `rel`, its name in the archive and its path below its
    disk; `path`, where it lives; `link`, its link-tree link ("" for an item's directory,
    reached through its test's link)."""
    rel: str
    path: str
    link: str

    def exists(self):
        return os.path.isdir(self.path) and not os.path.islink(self.path)


# ---------------------------------------------------------------- arguments

def archive_dir(path):
    """DIR of --archive, absolute; MtError (exit 2) when it is not a writable directory."""
    full = os.path.abspath(path)
    if not os.path.lexists(full):
        raise MtError(f"archive directory {path} does not exist", hint=f"mkdir -p {path}")
    if not os.path.isdir(full):
        raise MtError(f"archive directory {path} is not a directory")
    if not os.access(full, os.W_OK | os.X_OK):
        raise MtError(f"archive directory {path} is not writable")
    return full


def keep_runs(settings):
    """[archive] keep-runs N of megatest.config (--keep-runs); MtError when missing or bad."""
    text = (settings.config.get("archive", "keep-runs") or "").strip()
    if not text:
        raise MtError("--keep-runs needs `keep-runs N` in an [archive] section",
                      settings.area.config_path, hint="add the lines `[archive]` and `keep-runs 10`")
    if not text.isdigit():
        raise MtError(f"[archive] keep-runs must be a whole number of runs, got {text!r}",
                      *settings.config.location("archive", "keep-runs"))
    return int(text)


def beyond_keep(runs, keep):
    """The runs that are not among the newest KEEP of their target (by event_time), oldest
    first."""
    by_target = {}
    for run in sorted(runs, key=_age):
        by_target.setdefault(run["target"], []).append(run)
    old = [run for group in by_target.values() for run in group[:max(0, len(group) - keep)]]
    return sorted(old, key=_age)


def _age(run):
    return (run["event_time"] or 0, run["id"])


def lock(settings):
    """One archive or restore at a time in an area (a second one waits)."""
    return locks.held(os.path.join(os.path.dirname(settings.live_db_path()), "archive.lock"))


def state_of(conn, run):
    """The state of the run's active archive (archiving, archived, restoring) or None."""
    row = archived.active_archive(conn, run["id"])
    return row["state"] if row else None


# ---------------------------------------------------------------- archiving

def archive_run(conn, area, run, directory, testpatt, this_host):
    """Archive the selected records of RUN into DIRECTORY (see the module's docstring)."""
    active = archived.active_archive(conn, run["id"])
    if active is not None:
        if active["state"] == "archiving":
            return _finish_archiving(conn, run, active)
        if active["state"] == "restoring":
            return Result(failed="a restore of this run did not finish; run mt-clean --restore again")
        return Result(skipped=f"already archived in {active['archive_path']}, skipped")
    if run["locked"]:
        return Result(skipped="locked, skipped (mt-clean --unlock to allow archiving)")
    busy = _busy(conn, run, this_host)
    if busy:
        return Result(failed=f"not archived: {busy} (only finished runs are archived)")
    records = _selected(conn, run, testpatt)
    units = [u for u in _units(records, run) if u.exists()]
    if not units:
        return Result(skipped="no run directory to archive, skipped")
    inside = next((u for u in units if _inside(directory, u.path)), None)
    if inside:
        return Result(failed=f"not archived: the archive directory is inside {inside.path}")
    path = os.path.join(directory, archive_name(area, run, archived.count_archives(conn, run["id"])))
    try:
        size, left_out = _write(path, units, _run_rel(run))
    except OSError as err:
        return _write_failure(err, path)
    with db.transaction(conn):
        archive_id = archived.add_archive(conn, run["id"], path, [r["id"] for r in records], size)
    failure = _remove(conn, units, archive_id, path)
    return failure or Result(done="archived", path=path, records=len(records), dirs=len(units),
                             size=size, left_out=left_out)


def archive_name(area, run, earlier):
    base = f"{area.area_id}__{run['target'].replace('/', '_')}__{run['runname']}__{run['id']}"
    return base + (f"-{earlier + 1}" if earlier else "") + SUFFIX


def _finish_archiving(conn, run, active):
    """A kill after the records were marked: remove what is left, the row becomes archived."""
    units = _units(archived.records_of(conn, active["id"]), run)
    left = [u for u in units if u.exists()]
    failure = _remove(conn, units, active["id"], active["archive_path"])
    return failure or Result(done="finished", path=active["archive_path"], dirs=len(left))


def _busy(conn, run, this_host):
    """Why the run is not finished (a record still running, a live mt-run), or None."""
    for r in db.tests_of_run(conn, run["id"]):
        if r["state"] in BUSY_STATES:
            return f"{_name(r)} is {r['state']}"
    for task in db.active_runners(conn, run["target"], run["runname"]):
        if task["host"] == this_host and direct.pid_alive(task["pid"]):
            return f"mt-run (pid {task['pid']}) is working on it"
    return None


def _selected(conn, run, testpatt):
    """The records testpatt selects, with every item of a selected toplevel (its directory
    holds theirs)."""
    match = compile_testpatt(testpatt or "%")
    rows = db.tests_of_run(conn, run["id"])
    tops = {r["testname"] for r in rows if not r["item_path"] and match(r["testname"], "")}
    return [r for r in rows if r["testname"] in tops or match(r["testname"], r["item_path"])]


def _units(records, run):
    """The directories of RECORDS, none inside another (a test's holds its items')."""
    found = {}
    for r in records:
        rel = "/".join(p for p in (_run_rel(run), r["testname"], r["item_path"]) if p)
        short = r["shortdir"] or ""
        if short.endswith("/" + rel):
            found[rel] = Unit(rel, short, "" if r["item_path"] else (r["rundir"] or ""))
    return [u for rel, u in sorted(found.items())
            if not any(_inside(rel, other) and rel != other for other in found)]


def _write(path, units, run_rel):
    """Write the archive at path (temp, fsync, rename); returns (size, symlinks left out)."""
    name = os.path.basename(path)
    directory = os.path.dirname(path)
    for stale in os.listdir(directory):          # what a kill left of an earlier attempt
        if stale.startswith(f".{name}.tmp-"):
            os.unlink(os.path.join(directory, stale))
    left_out = []

    def keep(info):
        if not (info.isreg() or info.isdir() or info.issym() or info.islnk()):
            return None                           # pipes and devices: a restore refuses them
        if info.issym() and _escapes(info.name, info.linkname, run_rel):
            left_out.append(f"{info.name} -> {info.linkname}")
            return None
        return info

    def write(out):
        with tarfile.open(fileobj=out, mode="w:gz", compresslevel=COMPRESSLEVEL) as tar:
            for unit in units:
                tar.add(unit.path, arcname=unit.rel, filter=keep)

    fsutil.write_atomic_with(path, write, prefix=f".{name}.tmp-")
    return os.path.getsize(path), left_out


def _write_failure(err, path):
    reading = err.filename and os.path.dirname(str(err.filename)) != os.path.dirname(path)
    if reading and err.errno not in STORAGE_ERRNOS:
        return Result(failed=f"not archived: cannot read {err.filename}: {err.strerror}")
    return Result(failed=f"not archived: cannot write {path}: {err.strerror or err}; "
                         "nothing was changed", stop=err.errno in STORAGE_ERRNOS)


def _remove(conn, units, archive_id, path):
    """Each directory renamed aside (whole or gone), its link removed, the renamed copy
    deleted; then the archive is `archived`. A Result when something could not be removed
    (the archive stays `archiving`: the same command finishes it)."""
    for unit in units:
        aside = _beside(unit.path, TRASH, archive_id)
        try:
            _rmtree(aside)                            # what a kill left of an earlier attempt
            if unit.exists():
                os.rename(unit.path, aside)
            if unit.link and os.path.islink(unit.link):
                os.unlink(unit.link)
            _rmtree(aside)
        except OSError as err:
            return Result(failed=f"archived in {path}, but {err.filename or unit.path} could not "
                                 f"be removed: {err.strerror or err}; run the same command again "
                                 "to finish")
    with db.transaction(conn):
        archived.set_state(conn, archive_id, "archived")
    return None


# ---------------------------------------------------------------- restoring

def restore_run(conn, run):
    """Put the directories of the run's archive back (see the module's docstring)."""
    active = archived.active_archive(conn, run["id"])
    if active is None:
        return Result(skipped="not archived, nothing to restore")
    path = active["archive_path"]
    if not os.path.isfile(path):
        return Result(failed=f"not restored: the archive {path} is missing")
    records = archived.records_of(conn, active["id"])
    units = _units(records, run)
    # the directories of records removed since (mt-clean) are in the archive too: allowed,
    # not unpacked
    roots = [u.rel for u in _units(archived.records_of(conn, active["id"], True), run)]
    try:
        with tarfile.open(path, "r:gz") as tar:
            members = tar.getmembers()
            problem = check_members(members, roots, _run_rel(run))
            if problem:
                return Result(failed=f"not restored: {path}: {problem}")
            result = _unpack(conn, tar, members, units, active)
    except (tarfile.TarError, EOFError, zlib.error) as err:
        return Result(failed=f"not restored: {path} is not a readable archive ({err})")
    except OSError as err:
        return Result(failed=f"not restored: {err.filename or path}: {err.strerror or err} "
                             "(restore again once that is fixed)")
    if isinstance(result, Result):
        return result
    for unit in units:
        if unit.link and unit.exists():
            rundir.ensure_link(unit.link, unit.path)
    with db.transaction(conn):
        archived.clear_marks(conn, active["id"])
    return Result(done="restored", path=path, records=len(records), dirs=result)


def _unpack(conn, tar, members, units, active):
    """Unpack each unit that is not in place yet, in the archive's order (the gzip stream is
    read forward once); how many were, or a Result when a destination refuses."""
    resuming = active["state"] != "archived"    # a kill left some directories in place
    by_unit = {u.rel: [m for m in members if _inside(posixpath.normpath(m.name), u.rel)]
               for u in units}
    todo = []
    for unit in units:
        if not by_unit[unit.rel]:
            continue
        if _occupied(unit.path):
            if resuming and unit.exists():            # renamed into place whole: done
                continue
            return Result(failed=f"not restored: {unit.path} exists and is not empty "
                                 "(move it aside, then restore again)")
        todo.append(unit)
    if active["state"] != "restoring":
        with db.transaction(conn):
            archived.set_state(conn, active["id"], "restoring")
    for unit in todo:
        staging = _beside(unit.path, STAGING, active["id"])
        os.makedirs(os.path.dirname(unit.path), exist_ok=True)
        _rmtree(staging)                              # what a kill left of an earlier attempt
        os.mkdir(staging)
        tar.extractall(staging, members=by_unit[unit.rel], **EXTRACT_FILTER)
        if os.path.isdir(unit.path):
            os.rmdir(unit.path)                       # an empty directory: checked above
        os.rename(os.path.join(staging, unit.rel), unit.path)
        _rmtree(staging)
    return len(todo)


def check_members(members, roots, run_rel):
    """Why an archive's members may not be unpacked (the first reason found), or None: each
    must be a relative path without `..` inside one of ROOTS, a file, directory, symlink or
    hard link; a symlink must point inside RUN_REL, a hard link inside ROOTS, and no member
    may lie under a symlink."""
    links = {posixpath.normpath(m.name) for m in members if m.issym()}
    for m in members:
        name = posixpath.normpath(m.name)
        if posixpath.isabs(m.name) or ".." in m.name.split("/"):
            return f"member {m.name!r} has an absolute path or '..'"
        if not any(_inside(name, root) for root in roots):
            return f"member {m.name!r} lies outside the archived directories"
        if not (m.isreg() or m.isdir() or m.issym() or m.islnk()):
            return f"member {m.name!r} is not a file, directory or link"
        if m.issym() and _escapes(name, m.linkname, run_rel):
            return f"symlink {m.name!r} points outside the run ({m.linkname})"
        if m.islnk() and (posixpath.isabs(m.linkname) or ".." in m.linkname.split("/") or
                          not any(_inside(posixpath.normpath(m.linkname), r) for r in roots)):
            return f"hard link {m.name!r} points outside the archived directories ({m.linkname})"
        parent = posixpath.dirname(name)
        while parent:
            if parent in links:
                return f"member {m.name!r} lies under the symlink {parent!r}"
            parent = posixpath.dirname(parent)
    return None


def _occupied(path):
    """Something is at path other than an empty directory."""
    if not os.path.lexists(path):
        return False
    return os.path.islink(path) or not os.path.isdir(path) or bool(os.listdir(path))


# ---------------------------------------------------------------- paths

def _beside(path, prefix, archive_id):
    return os.path.join(os.path.dirname(path), f"{prefix}{archive_id}-{os.path.basename(path)}")


def _rmtree(path):
    if os.path.lexists(path):
        shutil.rmtree(path)


def _run_rel(run):
    return f"{run['target']}/{run['runname']}"


def _escapes(name, target, run_rel):
    """Does a symlink at NAME (a path in the archive) to TARGET point outside RUN_REL?"""
    if posixpath.isabs(target):
        return True
    return not _inside(posixpath.normpath(posixpath.join(posixpath.dirname(name), target)), run_rel)


def _inside(path, root):
    return path == root or path.startswith(root.rstrip("/") + "/")


def _name(row):
    return row["testname"] + (f"/{row['item_path']}" if row["item_path"] else "")
