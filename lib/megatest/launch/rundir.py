"""Run directories: disk choice, physical path and link tree, the copy of the test, megatest.sh."""
import os
import shlex
import shutil
import subprocess

from megatest.errors import MtError

DEFAULT_DISK_DIR = "runs"


def usable_disks(disks, minspace_kib):
    """[(name, path, free_kib)] of usable disks, and [(name, path, reason)] of rejected ones."""
    good, bad = [], []
    for name, path in disks:
        if not os.path.isabs(path):
            bad.append((name, path, "not an absolute path"))
        elif not os.path.isdir(path):
            bad.append((name, path, "not an existing directory"))
        elif not os.access(path, os.W_OK | os.X_OK):
            bad.append((name, path, "not writable"))
        else:
            st = os.statvfs(path)
            free = st.f_bavail * st.f_frsize // 1024
            if free <= minspace_kib:
                bad.append((name, path, f"only {free} KiB free, minspace is {minspace_kib}"))
            else:
                good.append((name, path, free))
    return good, bad


def check_disks(settings, warn=None):
    """At runner start: exit 2 naming each rejected disk when none is usable."""
    if not settings.disks:
        if warn:
            warn(f"warning: no [disks] in megatest.config; run directories go to "
                 f"{os.path.join(settings.area.toppath, DEFAULT_DISK_DIR)}")
        return
    good, bad = usable_disks(settings.disks, settings.minspace_kib)
    if not good:
        reasons = "; ".join(f"{n} ({p}): {why}" for n, p, why in bad)
        raise MtError(f"no usable disk in [disks]: {reasons}", settings.area.config_path)


def choose_disk(settings, test_disks=()):
    disks = list(test_disks) or settings.disks
    if not disks:
        path = os.path.join(settings.area.toppath, DEFAULT_DISK_DIR)
        os.makedirs(path, exist_ok=True)
        return path
    good, bad = usable_disks(disks, settings.minspace_kib)
    if not good:
        raise MtError("no usable disk: " + "; ".join(f"{n}: {why}" for n, _, why in bad))
    return max(good, key=lambda d: d[2])[1]


def paths(settings, disk, target, runname, testname, item_path):
    """(physical dir, link-tree dir, toplevel physical dir, toplevel link)."""
    phys_top = os.path.join(disk, target, runname, testname)
    link_top = os.path.join(settings.linktree, target, runname, testname)
    if item_path:
        return os.path.join(phys_top, item_path), os.path.join(link_top, item_path), phys_top, link_top
    return phys_top, link_top, phys_top, link_top


def ensure_link(link, phys):
    """Make link -> phys, replacing a stale link; never touch a real directory."""
    try:
        os.symlink(phys, link)             # the usual case: a new link in an existing directory
        return
    except FileNotFoundError:
        os.makedirs(os.path.dirname(link), exist_ok=True)
    except FileExistsError:
        if os.path.islink(link):
            if os.readlink(link) == phys:
                return
            os.unlink(link)
        else:
            return                         # a real directory stays
    os.symlink(phys, link)


def ensure_linktree(settings):
    os.makedirs(settings.linktree, exist_ok=True)
    lt = os.path.join(settings.area.toppath, "lt")
    if os.path.realpath(settings.linktree) != os.path.realpath(lt) and not os.path.lexists(lt):
        os.symlink(settings.linktree, lt)


KEPT_LOG_SUFFIXES = (".log", ".html", ".dat", ".out", ".err")


def clean_dir(path, attempt=None):
    """Empty a run directory before a relaunch. The logs of the attempt that ran there
    (ATTEMPT: its number) move to .mt-attempts/ATTEMPT first, and earlier ones stay: a rerun
    is an attempt, not an overwrite."""
    if not os.path.isdir(path) or os.path.islink(path):
        return
    from megatest.store.db import ATTEMPTS_DIR
    kept = os.path.join(path, ATTEMPTS_DIR)
    if attempt is not None and os.path.exists(os.path.join(path, ".mt-steps")):
        into = os.path.join(kept, str(attempt))
        os.makedirs(into, exist_ok=True)
        for entry in os.scandir(path):
            if entry.is_file(follow_symlinks=False) and (
                    entry.name == ".mt-steps" or entry.name.endswith(KEPT_LOG_SUFFIXES)):
                os.replace(entry.path, os.path.join(into, entry.name))
    for entry in os.scandir(path):
        if entry.name == ATTEMPTS_DIR:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


SMALL_TEST_DIR = 1 << 20      # bytes: test dirs up to this size are copied from memory


def copy_test(src, dst, copycmd="", log=None, made=False, cache=None):
    """Copy the test's source directory into its run directory (modes and symlinks kept).

    A small flat test directory (the usual testconfig plus a few scripts) is read once and
    written from memory: one open per file instead of copy2's two plus its stat calls. Each
    use re-checks the sources' mtimes, so edits made during a run still reach later tests."""
    if not made:
        os.makedirs(dst, exist_ok=True)
    if not copycmd and cache is not None:
        files = _small_flat_dir(src, cache)
        if files is not None:
            for name, (mode, data) in files.items():
                fd = os.open(os.path.join(dst, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
                try:
                    os.write(fd, data)
                    os.fchmod(fd, mode)
                finally:
                    os.close(fd)
            return
    if copycmd:
        cmd = copycmd.replace("TEST_SRC_PATH", shlex.quote(src)).replace("TEST_TARG_PATH", shlex.quote(dst))
        subprocess.run(cmd, shell=True, stdout=log, stderr=subprocess.STDOUT, check=False)
        return
    for name in os.listdir(src):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.islink(s):
            if os.path.lexists(d):
                os.unlink(d)
            os.symlink(os.readlink(s), d)
        elif os.path.isdir(s):
            shutil.copytree(s, d, symlinks=True, dirs_exist_ok=True)
        else:
            shutil.copy2(s, d)


def _small_flat_dir(src, cache):
    """{name: (mode, bytes)} of a directory of only small regular files, else None."""
    entries = list(os.scandir(src))
    stamp = tuple(sorted((e.name, e.stat(follow_symlinks=False).st_mtime_ns) for e in entries))
    hit = cache.get(src)
    if hit and hit[0] == stamp:
        return hit[1]
    files, total = {}, 0
    for e in entries:
        if not e.is_file(follow_symlinks=False):
            cache[src] = (stamp, None)
            return None
        st = e.stat(follow_symlinks=False)
        total += st.st_size
        if total > SMALL_TEST_DIR:
            cache[src] = (stamp, None)
            return None
        with open(e.path, "rb") as f:
            files[e.name] = (st.st_mode & 0o7777, f.read())
    cache[src] = (stamp, files)
    return files


_QUOTE = str.maketrans({"\\": "\\\\", '"': '\\"', "$": "\\$", "`": "\\`"})


def _env_line(key, value, blacklist, cache):
    """(sh line, csh line) for one variable; most values repeat across tests, so cached."""
    line = cache.get((key, value))
    if line is None:
        quoted = '"' + value.translate(_QUOTE) + '"'
        hide = "# " if key in blacklist or ":" in key or not key.replace("_", "a").isalnum() else ""
        line = (f"{hide}export {key}={quoted}", f"{hide}setenv {key} {quoted}")
        if len(cache) < 100000:
            cache[(key, value)] = line
    return line


def write_env_files(rundir, env, blacklist, cache=None, name="megatest"):
    """megatest.sh / megatest.csh: the test's whole environment, blacklisted names commented out.
    cache (a dict the caller keeps for one blacklist) saves re-quoting values seen before.
    NAME replaces `megatest` in the file names (`megatest -env2file NAME`)."""
    cache = {} if cache is None else cache
    lines = [_env_line(key, env[key], blacklist, cache) for key in sorted(env)]
    sh = [a for a, _ in lines]
    csh = [b for _, b in lines]
    with open(os.path.join(rundir, name + ".sh"), "w") as f:
        f.write("\n".join(sh) + "\n")
    with open(os.path.join(rundir, name + ".csh"), "w") as f:
        f.write("\n".join(csh) + "\n")
