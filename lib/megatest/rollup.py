"""Roll the items of an iterated test up into its toplevel record (behaviour.md §10.4).

Pure functions over (state, status) pairs; the db layer calls them in the same
transaction as the item change.
"""
from megatest import states as st

__all__ = ["rollup", "counts", "contributed_status"]

_STANDARD_STATES = frozenset(st.STATES) - st.BAD_END_STATES


def _counted(items):
    return [(state, status or "") for state, status in items if state not in st.MAINTENANCE_STATES]


def contributed_status(state, status):
    """The status one item contributes: unknown statuses count as ABORT, bad ends as FAIL."""
    status = status or ""
    if st.status_rank(status) == st.UNKNOWN_RANK:
        status = st.ABORT
    if state not in _STANDARD_STATES:
        status = st.worse_status(status, st.FAIL)
    return status


def rollup(items):
    """Return the toplevel (state, status) for ITEMS, an iterable of (state, status).

    None when no item counts (all deleted or under maintenance): the toplevel is
    then left unchanged.
    """
    counted = _counted(items)
    if not counted:
        return None
    if any(st.is_running(state) for state, _ in counted):
        state = st.RUNNING
    elif all(state == st.NOT_STARTED for state, _ in counted):
        state = st.NOT_STARTED
    elif any(st.is_pending(state, status) for state, status in counted):
        state = st.RUNNING
    else:
        state = st.COMPLETED
    status = contributed_status(*counted[0])
    for item_state, item_status in counted[1:]:
        status = st.worse_status(status, contributed_status(item_state, item_status))
    return state, status


def counts(items):
    """Return (pass_count, fail_count): counted items whose status is PASS / FAIL."""
    counted = _counted(items)
    passed = sum(1 for _, status in counted if status == st.PASS)
    failed = sum(1 for _, status in counted if status == st.FAIL)
    return passed, failed


def counted_pairs(items):
    """The (state, status) pairs a rollup counts (maintenance states are left out)."""
    return [(state, status) for state, status in items if state not in st.MAINTENANCE_STATES]
