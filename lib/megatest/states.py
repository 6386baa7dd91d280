"""Test states and statuses: the vocabularies, their groups, ranks and exit-code mapping.

Imported by `mt-test` on every call: standard library only, no work at import.
Both fields are free text; the names here are the values that carry meaning
(behaviour.md §10).
"""

# States (§10.1)
NOT_STARTED = "NOT_STARTED"
LAUNCHED = "LAUNCHED"
REMOTEHOSTSTART = "REMOTEHOSTSTART"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
KILLREQ = "KILLREQ"
KILLED = "KILLED"
INCOMPLETE = "INCOMPLETE"
STUCK = "STUCK"
UNKNOWN = "UNKNOWN"
ARCHIVED = "ARCHIVED"
CLEANING = "CLEANING"
REMOVING = "REMOVING"
ARCHIVE_REMOVING = "ARCHIVE_REMOVING"
DELETED = "DELETED"

STATES = (
    NOT_STARTED, LAUNCHED, REMOTEHOSTSTART, RUNNING, COMPLETED, KILLREQ, KILLED,
    INCOMPLETE, STUCK, UNKNOWN, ARCHIVED, CLEANING, REMOVING, ARCHIVE_REMOVING, DELETED,
)
RUNNING_STATES = frozenset((LAUNCHED, REMOTEHOSTSTART, RUNNING, KILLREQ))
TRANSIENT_STATES = frozenset((CLEANING, REMOVING))  # neither pending nor final
MAINTENANCE_STATES = frozenset((CLEANING, REMOVING, ARCHIVE_REMOVING, DELETED))
# States whose records have ended badly whatever their status says (§10.4 rule 3).
BAD_END_STATES = frozenset((INCOMPLETE, KILLED, STUCK, UNKNOWN))

# Statuses (§10.1)
NA = "n/a"
PASS = "PASS"
WARN = "WARN"
CHECK = "CHECK"
WAIVED = "WAIVED"
ABORT = "ABORT"
SKIP = "SKIP"
FAIL = "FAIL"
AUTO = "AUTO"
AUTO_WARN = "AUTO-WARN"
DEAD = "DEAD"
STUCK_DEAD = "STUCK/DEAD"
KILLED_STATUS = "KILLED"
FAILED_TO_KILL = "FAILED TO KILL"
PREQ_FAIL = "PREQ_FAIL"
PREQ_DISCARDED = "PREQ_DISCARDED"
ZERO_ITEMS = "ZERO_ITEMS"
BLOCKED = "BLOCKED"
TEN_STRIKES = "TEN_STRIKES"
TIMED_OUT = "TIMED_OUT"
KEEP_TRYING = "KEEP_TRYING"
LOCKED = "LOCKED"

OK_STATUSES = frozenset((PASS, WARN, CHECK, WAIVED, SKIP))
PENDING_STATUSES = frozenset((NA, "", KEEP_TRYING))
BLOCKED_STATUSES = frozenset((PREQ_FAIL, PREQ_DISCARDED, ZERO_ITEMS, BLOCKED, TIMED_OUT, TEN_STRIKES))

# Best to worst (§10.4). Unknown statuses rank after ABORT and are shown as ABORT.
STATUS_RANK = [
    NA, PASS, AUTO, SKIP, WARN, AUTO_WARN, WAIVED, CHECK, STUCK_DEAD, DEAD, TIMED_OUT,
    ZERO_ITEMS, BLOCKED, TEN_STRIKES, INCOMPLETE, FAIL, KILLED_STATUS, FAILED_TO_KILL,
    PREQ_FAIL, PREQ_DISCARDED, ABORT,
]
_RANK = {status: i for i, status in enumerate(STATUS_RANK)}
_RANK.update({"na": 0, "": 0, KEEP_TRYING: 0})
UNKNOWN_RANK = len(STATUS_RANK)

# Every status with a meaning here (the names a filter or --rerun is most likely to mean).
KNOWN_STATUSES = frozenset(STATUS_RANK) | {KEEP_TRYING, LOCKED, "na"}

# Exit code -> status (§11.5). An ezstep without a checker passes only on 0.
_EXIT_STATUS = {0: PASS, 1: FAIL, 2: WARN, 3: CHECK, 4: WAIVED, 5: ABORT, 6: SKIP}
EXIT_KINDS = ("runscript", "ezstep", "checker")


def is_running(state):
    """True for LAUNCHED, REMOTEHOSTSTART, RUNNING and KILLREQ."""
    return state in RUNNING_STATES


def is_pending(state, status):
    """True for a registered record that has not been launched nor blocked."""
    return state == NOT_STARTED and (status or "") in PENDING_STATUSES


def is_final(state, status):
    """True when the record will not change by itself any more (§10.3).

    Blocked NOT_STARTED records and custom states are final; CLEANING and
    REMOVING are transient maintenance and not final.
    """
    return not (is_pending(state, status) or state in RUNNING_STATES or state in TRANSIENT_STATES)


def is_clean(status):
    """True for the ok statuses (PASS WARN CHECK WAIVED SKIP)."""
    return status in OK_STATUSES


def exit_to_status(code, kind="runscript"):
    """Map an exit code (None: could not start) to a status for KIND (§11.5)."""
    if kind not in EXIT_KINDS:
        raise ValueError(f"unknown exit kind {kind!r}")
    if code == 0:
        return PASS
    if kind == "ezstep" or code is None:
        return FAIL
    return _EXIT_STATUS.get(code, FAIL)


def normalize_status(text):
    """Status shortcuts for scripts: "0" -> PASS, any other integer -> FAIL."""
    if text is None:
        return text
    digits = text.strip()
    if digits[:1] in "+-":
        digits = digits[1:]
    if digits and digits.isascii() and digits.isdigit():
        return PASS if int(digits) == 0 else FAIL
    return text


def status_rank(status):
    """Position of STATUS in STATUS_RANK; unknown statuses rank worst."""
    return _RANK.get(status or "", UNKNOWN_RANK)


def worse_status(a, b):
    """The worse of two statuses by STATUS_RANK (A when they rank the same)."""
    return b if status_rank(b) > status_rank(a) else a


def validvalues_words(section):
    """Every word of the area's [validvalues] entries (Megatest's `state ...`/`status ...`
    lists, cleanrerun-states/-statuses): values the area declares, so no typo."""
    return frozenset(w for text in (section or {}).values()
                     for w in str(text).replace(",", " ").split())


def unknown(values, kind, declared=()):
    """The VALUES (KIND "state" or "status") that neither this vocabulary nor DECLARED knows:
    both fields are free text, but a filter or --rerun on a misspelt one selects nothing."""
    known = STATES if kind == "state" else KNOWN_STATUSES
    return [v for v in values if v not in known and v not in declared]


def suggestion(value, kind):
    """` (did you mean X?)` for a near miss of a known state or status, else ""."""
    from difflib import get_close_matches
    known = STATES if kind == "state" else sorted(KNOWN_STATUSES)
    close = get_close_matches(value.upper(), known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""
