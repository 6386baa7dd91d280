"""Toplevel rollup (§10.4) and the state/status groups it rests on (§10.3, §11.5)."""
import pytest

from megatest import states as st
from megatest.rollup import counts, rollup

FIVE_PASS = [("COMPLETED", "PASS")] * 5

# behaviour.md §10.4 unit table: set item/4 to X, the toplevel becomes Y.
UNIT_TABLE = [
    (("COMPLETED", "ABORT"), ("COMPLETED", "ABORT")),
    (("COMPLETED", "FAIL"), ("COMPLETED", "FAIL")),
    (("INCOMPLETE", "PASS"), ("COMPLETED", "FAIL")),
    (("INCOMPLETE", "FAIL"), ("COMPLETED", "FAIL")),
    (("RUNNING", "PASS"), ("RUNNING", "PASS")),
    (("RUNNING", "FAIL"), ("RUNNING", "FAIL")),
    (("COMPLETED", "BLAH"), ("COMPLETED", "ABORT")),
    (("COMPLETED", "AUTO"), ("COMPLETED", "AUTO")),
    (("DELETED", "n/a"), ("COMPLETED", "PASS")),
    (("NOT_STARTED", "PREQ_FAIL"), ("COMPLETED", "PREQ_FAIL")),
]


def with_item4(record):
    items = list(FIVE_PASS)
    items[3] = record
    return items


def test_five_passing_items_roll_up_to_pass():
    assert rollup(FIVE_PASS) == ("COMPLETED", "PASS")


@pytest.mark.parametrize("item4,toplevel", UNIT_TABLE, ids=lambda r: "/".join(r))
def test_unit_table_row_and_reset(item4, toplevel):
    assert rollup(with_item4(item4)) == toplevel
    assert rollup(with_item4(("COMPLETED", "PASS"))) == ("COMPLETED", "PASS")


def test_all_items_preq_fail():
    assert rollup([("NOT_STARTED", "PREQ_FAIL")] * 3) == ("NOT_STARTED", "PREQ_FAIL")


@pytest.mark.parametrize("state", ["LAUNCHED", "REMOTEHOSTSTART", "RUNNING", "KILLREQ"])
def test_any_running_item_makes_the_toplevel_running(state):
    items = [("COMPLETED", "FAIL"), (state, "n/a"), ("NOT_STARTED", "n/a")]
    assert rollup(items) == ("RUNNING", "FAIL")


def test_all_not_started_stays_not_started():
    assert rollup([("NOT_STARTED", "n/a")] * 2) == ("NOT_STARTED", "n/a")


def test_partly_done_is_running():
    assert rollup([("COMPLETED", "PASS"), ("NOT_STARTED", "n/a")]) == ("RUNNING", "PASS")


def test_finished_and_blocked_items_complete_the_toplevel():
    assert rollup([("COMPLETED", "PASS"), ("NOT_STARTED", "PREQ_DISCARDED")]) == \
        ("COMPLETED", "PREQ_DISCARDED")


@pytest.mark.parametrize("state", ["KILLED", "STUCK", "UNKNOWN", "WEIRD"])
def test_bad_or_custom_states_contribute_at_least_fail(state):
    assert rollup([("COMPLETED", "PASS"), (state, "PASS")]) == ("COMPLETED", "FAIL")


def test_bad_state_keeps_a_worse_status():
    assert rollup([("KILLED", "PREQ_FAIL"), ("COMPLETED", "PASS")]) == ("COMPLETED", "PREQ_FAIL")
    assert rollup([("WEIRD", "BLAH")]) == ("COMPLETED", "ABORT")


@pytest.mark.parametrize("state", ["DELETED", "REMOVING", "CLEANING", "ARCHIVE_REMOVING"])
def test_only_ignored_items_leave_the_toplevel_unchanged(state):
    assert rollup([(state, "LOCKED")]) is None
    assert rollup([]) is None


def test_rank_order_picks_the_worst():
    items = [("COMPLETED", s) for s in ("PASS", "WARN", "CHECK", "SKIP", "WAIVED")]
    assert rollup(items) == ("COMPLETED", "CHECK")
    assert rollup([("COMPLETED", "DEAD"), ("COMPLETED", "FAIL")]) == ("COMPLETED", "FAIL")
    assert rollup([("COMPLETED", "ABORT"), ("COMPLETED", "PREQ_DISCARDED")]) == ("COMPLETED", "ABORT")


def test_counts():
    items = with_item4(("COMPLETED", "FAIL")) + [("COMPLETED", "WARN"), ("DELETED", "PASS")]
    assert counts(items) == (4, 1)


# --- states.py ---

@pytest.mark.parametrize("code,runscript,ezstep,checker", [
    (0, "PASS", "PASS", "PASS"),
    (1, "FAIL", "FAIL", "FAIL"),
    (2, "WARN", "FAIL", "WARN"),
    (3, "CHECK", "FAIL", "CHECK"),
    (4, "WAIVED", "FAIL", "WAIVED"),
    (5, "ABORT", "FAIL", "ABORT"),
    (6, "SKIP", "FAIL", "SKIP"),
    (7, "FAIL", "FAIL", "FAIL"),
    (127, "FAIL", "FAIL", "FAIL"),
    (-9, "FAIL", "FAIL", "FAIL"),
    (None, "FAIL", "FAIL", "FAIL"),  # could not start
])
def test_exit_code_table(code, runscript, ezstep, checker):
    assert st.exit_to_status(code, "runscript") == runscript
    assert st.exit_to_status(code, "ezstep") == ezstep
    assert st.exit_to_status(code, "checker") == checker


def test_exit_kind_must_be_known():
    with pytest.raises(ValueError):
        st.exit_to_status(0, "bogus")


@pytest.mark.parametrize("text,status", [
    ("0", "PASS"), ("00", "PASS"), ("1", "FAIL"), ("-1", "FAIL"), ("255", "FAIL"),
    ("PASS", "PASS"), ("weird", "weird"), ("1.5", "1.5"), ("", ""), ("n/a", "n/a"),
])
def test_normalize_status(text, status):
    assert st.normalize_status(text) == status


@pytest.mark.parametrize("state,status,running,pending,final", [
    ("NOT_STARTED", "n/a", False, True, False),
    ("NOT_STARTED", "", False, True, False),
    ("NOT_STARTED", None, False, True, False),
    ("NOT_STARTED", "KEEP_TRYING", False, True, False),
    ("NOT_STARTED", "PREQ_FAIL", False, False, True),
    ("NOT_STARTED", "ZERO_ITEMS", False, False, True),
    ("LAUNCHED", "n/a", True, False, False),
    ("REMOTEHOSTSTART", "n/a", True, False, False),
    ("RUNNING", "PASS", True, False, False),
    ("KILLREQ", "n/a", True, False, False),
    ("COMPLETED", "FAIL", False, False, True),
    ("KILLED", "KILLED", False, False, True),
    ("INCOMPLETE", "KILLED", False, False, True),
    ("ARCHIVED", "PASS", False, False, True),
    ("WEIRD", "FAIL", False, False, True),
    ("CLEANING", "LOCKED", False, False, False),
    ("REMOVING", "LOCKED", False, False, False),
])
def test_state_groups(state, status, running, pending, final):
    assert st.is_running(state) is running
    assert st.is_pending(state, status) is pending
    assert st.is_final(state, status) is final


def test_clean_statuses():
    assert [s for s in st.STATUS_RANK if st.is_clean(s)] == ["PASS", "SKIP", "WARN", "WAIVED", "CHECK"]
    assert not st.is_clean("AUTO")


def test_worse_status():
    assert st.worse_status("PASS", "FAIL") == "FAIL"
    assert st.worse_status("ABORT", "PREQ_FAIL") == "ABORT"
    assert st.worse_status("ABORT", "BLAH") == "BLAH"  # unknown ranks worst
    assert st.worse_status("n/a", "") == "n/a"  # aliases tie; the first wins
    assert st.worse_status("KEEP_TRYING", "PASS") == "PASS"
