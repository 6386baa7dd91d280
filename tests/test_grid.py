"""report/grid.py on a real database written through the store's functions: columns and
paging, folded and expanded items, filters, the change feed (flaky, deleted, too many
changes), a record's history and the pass rate per target."""
import os

import pytest

from conftest import write_area
from megatest.config.area import Area
from megatest.config.settings import load_settings
from megatest.report import grid
from megatest.store import db


@pytest.fixture
def area(tmp_path, monkeypatch):
    """Runs r1..r3 of a/b and r1 of c/d; tests solo and multi (items x, y)."""
    monkeypatch.setenv("MT_TMPDIR", str(tmp_path / "livedb"))
    top = write_area(tmp_path / "area", {"solo": "", "multi": ""})
    made = Area(os.path.realpath(top))
    conn = db.open_area_db(made)
    keys = db.register_keys(conn, ["arch", "os"])
    ids = {}
    for n, (target, runname) in enumerate([("a/b", "r1"), ("a/b", "r2"), ("c/d", "r1"),
                                            ("a/b", "r3")]):
        run_id = db.register_run(conn, keys, target.split("/"), runname, "me", now=1000 + n)
        db.register_tests(conn, run_id, [("solo", ""), ("multi", ""), ("multi", "x"),
                                         ("multi", "y")])
        ids[(target, runname)] = run_id
    conn.close()
    return Fixture(made, ids, load_settings(made))


class Fixture:
    """The area, its run ids by (target, runname), its settings; grid's calls take it as
    the area (it has toppath and the paths an Area has)."""

    def __init__(self, area, ids, settings):
        self.area, self.ids, self.settings = area, ids, settings

    def __getattr__(self, name):
        return getattr(self.area, name)


def set_status(area, target, runname, test, item, state, status):
    conn = db.connect(area.live_db_path())
    try:
        row = db.find_test(conn, area.ids[(target, runname)], test, item)
        db.set_test_state(conn, row["id"], state, status)
        return row["id"]
    finally:
        conn.close()


def show(area, **kw):
    return grid.grid(area.area, area.settings, grid.Filters(**kw))


def test_columns_are_the_newest_runs_and_older_ones_page(area):
    g = show(area, columns=2)
    assert [(r["target"], r["runname"]) for r in g["runs"]] == [("a/b", "r3"), ("c/d", "r1")]
    assert g["total_runs"] == 4
    older = show(area, columns=2, skip=2)
    assert [r["runname"] for r in older["runs"]] == ["r2", "r1"]
    assert [r["runname"] for r in show(area, target="a/%")["runs"]] == ["r3", "r2", "r1"]


def test_items_are_folded_into_their_test_until_expanded(area):
    g = show(area)
    assert [(r["test"], r["item"], r["items"]) for r in g["rows"]] == \
        [("multi", "", 2), ("solo", "", 0)]
    assert all(len(r["cells"]) == 4 for r in g["rows"])
    expanded = show(area, expand=("multi",))
    assert [(r["test"], r["item"]) for r in expanded["rows"]] == \
        [("multi", ""), ("multi", "x"), ("multi", "y"), ("solo", "")]


def test_a_status_filter_keeps_tests_with_a_matching_item(area):
    set_status(area, "a/b", "r3", "multi", "x", "COMPLETED", "PASS")
    set_status(area, "a/b", "r3", "multi", "y", "COMPLETED", "FAIL")
    set_status(area, "a/b", "r3", "solo", "", "COMPLETED", "PASS")
    g = show(area, statuses=("FAIL",))
    assert [(r["test"], r["items"]) for r in g["rows"]] == [("multi", 1)]
    top = g["rows"][0]["cells"][0]                       # the rolled-up toplevel is FAIL too
    assert (top["status"], top["colour"], top["label"]) == ("FAIL", "#fd2131", "FAIL")
    assert [r["item"] for r in show(area, statuses=("FAIL",), expand=("%",))["rows"]] == ["", "y"]
    assert [r["test"] for r in show(area, testpatt="solo")["rows"]] == ["solo"]


def test_the_change_feed(area, monkeypatch):
    seq = show(area)["seq"]
    assert grid.changed(area.area, area.settings, grid.Filters(), seq)["tests"] == []
    test_id = set_status(area, "a/b", "r3", "solo", "", "RUNNING", "n/a")
    out = grid.changed(area.area, area.settings, grid.Filters(statuses=("PASS",)), seq)
    assert [(t["id"], t["label"], t["show"]) for t in out["tests"]] == [(test_id, "RUNNING", False)]
    later = out["seq"]
    set_status(area, "a/b", "r3", "solo", "", "COMPLETED", "PASS")
    out = grid.changed(area.area, area.settings, grid.Filters(statuses=("PASS",)), later)
    assert [(t["label"], t["show"], t["flaky"]) for t in out["tests"]] == [("PASS", True, False)]
    monkeypatch.setattr(grid, "MAX_CHANGES", 3)
    assert grid.changed(area.area, area.settings, grid.Filters(), 0)["reload"] is True
    assert grid.changed(area.area, area.settings, grid.Filters(), out["seq"] + 5)["reload"] is True


def test_a_pass_after_a_failing_attempt_is_flaky_in_the_feed_and_the_grid(area):
    seq = show(area)["seq"]
    test_id = set_status(area, "a/b", "r3", "solo", "", "COMPLETED", "FAIL")
    conn = db.connect(area.live_db_path())
    try:
        db.update_test(conn, test_id, rundir="/nowhere")     # an attempt keeps its directory
        db.reset_test(conn, test_id)
        db.set_test_state(conn, test_id, "COMPLETED", "PASS")
    finally:
        conn.close()
    mine = [t for t in grid.changed(area.area, area.settings, grid.Filters(), seq)["tests"]
            if t["id"] == test_id]
    assert mine[-1]["flaky"] is True and mine[-1]["outcome"] == "flaky"
    solo = [r for r in show(area)["rows"] if r["test"] == "solo"][0]
    assert solo["cells"][0]["flaky"] is True


def test_history_and_pass_rates(area):
    set_status(area, "a/b", "r1", "solo", "", "COMPLETED", "PASS")
    set_status(area, "a/b", "r2", "solo", "", "COMPLETED", "FAIL")
    test_id = set_status(area, "a/b", "r3", "solo", "", "COMPLETED", "FAIL")
    entry = grid.test_history(area.area, area.settings, "a/b", "solo", "")
    assert entry["strip"] == "PFF"
    assert (entry["failing_for"], entry["first_failing"], entry["last_passed"]) == (2, "r2", "r1")
    assert entry["runs"][-1]["cell"]["id"] == test_id
    rates = grid.pass_rates(area.area, area.settings)
    assert list(rates) == ["a/b", "c/d"]
    r1 = rates["a/b"][0]                  # solo passed; the items of multi never ran
    assert (r1["runname"], r1["passed"], r1["finished"], r1["total"], r1["rate"]) == \
        ("r1", 1, 1, 3, 1.0)
    assert rates["a/b"][1]["rate"] == 0.0 and rates["c/d"][0]["rate"] is None


def test_a_removed_run_or_record_is_not_found(area):
    with pytest.raises(grid.NotFound, match="no run with id 999"):
        grid.run_detail(area.area, area.settings, 999)
    with pytest.raises(grid.NotFound, match="no test record with id 999"):
        grid.test_detail(area.area, area.settings, 999)
