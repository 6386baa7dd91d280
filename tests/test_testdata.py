"""Test data rows (§11.7): CSV parsing, computed pass/fail and the data rollup."""
import pytest

from megatest.errors import MtError
from megatest.testside.testdata import compute_status, normalize_row, parse_csv_rows, rollup_status

SPEC_EXAMPLE = """\
m,a,1.2,1.9,>
m,b,1.2,1.3,0.1
m,c,1.2,1.2,<=,A
m,d,10,8mA
"""


def test_spec_example_rows_and_rollup():
    rows = [normalize_row(r) for r in parse_csv_rows(SPEC_EXAMPLE)]
    assert [(r["variable"], r["status"]) for r in rows] == [
        ("a", "fail"), ("b", "pass"), ("c", "pass"), ("d", "")]
    assert rows[2]["units"] == "A"
    assert rollup_status("AUTO", rows) == ("FAIL", 2, 1)


def test_acceptance_37_rows():
    rows = [normalize_row(r) for r in parse_csv_rows("c,v,1.2,1.3,0.1\nc,w,1.2,1.9,>\n")]
    assert [r["status"] for r in rows] == ["pass", "fail"]
    assert rollup_status("AUTO", rows) == ("FAIL", 1, 1)


@pytest.mark.parametrize("value,expected,tol,status", [
    ("1.2", "1.3", "0.1", "pass"),     # exactly on the lower edge
    ("1.4", "1.3", "0.1", "pass"),     # exactly on the upper edge
    ("1.41", "1.3", "0.1", "fail"),
    ("1.19", "1.3", "0.1", "fail"),
    ("5", "5", "0", "pass"),
    (1.2, 1.3, 0.1, "pass"),           # numbers as well as text
    ("2", "1", ">", "pass"),
    ("1", "1", ">", "fail"),
    ("1", "1", ">=", "pass"),
    ("1", "2", "<", "pass"),
    ("2", "2", "<", "fail"),
    ("2", "2", "<=", "pass"),
    ("3", "2", "<=", "fail"),
    ("10", "8mA", "", ""),             # non-numeric expected
    ("abc", "1", "0.1", ""),
    ("abc", "1", ">", ""),
    ("1", "", "0.1", ""),
    ("1", "1", "", ""),                # no tol
    (" 1.2 ", " 1.3 ", " 0.1 ", "pass"),
])
def test_compute_status(value, expected, tol, status):
    assert compute_status(value, expected, tol) == status


def test_bad_tol_comparator():
    with pytest.raises(MtError) as exc:
        compute_status("1", "2", "~=")
    assert exc.value.message == "bad tol comparator ~="


def test_bad_tol_with_non_numeric_values_is_just_undecided():
    assert compute_status("x", "y", "~=") == ""


def test_normalize_row_reports_bad_tol_through_warn():
    warnings = []
    row = normalize_row({"variable": "v", "value": "1", "expected": "2", "tol": "=="},
                        warn=warnings.append)
    assert row["status"] == ""
    assert warnings == ["bad tol comparator =="]


def test_normalize_row_raises_without_warn():
    with pytest.raises(MtError):
        normalize_row({"value": "1", "expected": "2", "tol": "=="})


@pytest.mark.parametrize("given,final", [
    ("", "fail"), ("n/a", "fail"), ("N/A", "fail"), ("pass", "pass"), ("PASS", "PASS"),
    ("weird", "weird"),
])
def test_normalize_row_computes_only_undecided_status(given, final):
    row = {"value": "5", "expected": "1", "tol": "1", "status": given}
    assert normalize_row(row)["status"] == final
    assert row["status"] == given  # the input row is not changed


def test_parse_csv_rows_fields():
    text = "\n# a comment\n  # indented comment\n c , v , 1 , 2 , > , u , some text , pass , t \nx,y\n"
    rows = parse_csv_rows(text)
    assert rows == [
        {"category": "c", "variable": "v", "value": "1", "expected": "2", "tol": ">", "units": "u",
         "comment": "some text", "status": "pass", "type": "t"},
        {"category": "x", "variable": "y", "value": "", "expected": "", "tol": "", "units": "",
         "comment": "", "status": "", "type": ""},
    ]


def test_parse_csv_quoted_comment_and_extra_fields():
    rows = parse_csv_rows('c,v,1,1,0,,"a, b",,,extra,more')
    assert rows[0]["comment"] == "a, b"
    assert rows[0]["type"] == ""
    assert len(rows[0]) == 9


@pytest.mark.parametrize("current,statuses,result", [
    ("RUNNING", ["pass", "pass"], ("PASS", 2, 0)),
    ("AUTO", ["PASS", "Fail"], ("FAIL", 1, 1)),     # case-insensitive
    ("WARN", ["pass"], ("WARN", 1, 0)),
    ("FAIL", ["pass"], ("FAIL", 1, 0)),
    ("PASS", ["fail"], ("FAIL", 0, 1)),
    ("AUTO", ["", "weird"], ("AUTO", 0, 0)),
    ("AUTO", [], ("AUTO", 0, 0)),
])
def test_rollup_status(current, statuses, result):
    assert rollup_status(current, [{"status": s} for s in statuses]) == result
