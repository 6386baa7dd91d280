"""Every lock the project takes, and how: flock(2) on files that are never deleted.

Lock files stay in place after use: unlinking one while another process waits on it would
let a third process lock a new inode, and two holders would exist at once.
"""
import fcntl
import os
from contextlib import contextmanager


def db_create_lock_path(db_path):
    return db_path + ".lock"


@contextmanager
def held(path):
    """Block until the exclusive lock on path is ours; release on exit."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)        # closing the descriptor releases the flock


def try_hold(path):
    """Non-blocking exclusive lock: an open descriptor holding it, or None when someone else does.

    For "am I the one syncer/server": the descriptor is kept for the holder's life."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def release(fd):
    os.close(fd)


def is_held(path):
    """True when some process holds the lock on path (probe without keeping it)."""
    if not os.path.exists(path):
        return False
    fd = try_hold(path)
    if fd is None:
        return True
    release(fd)
    return False
