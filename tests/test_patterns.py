"""Test patterns (§8): every example row, the Decisions, and the run-level consequences."""
import pytest

from megatest.config.patterns import (
    compile_testpatt, match_name, match_part, match_target, match_testpatt, split_elements,
)

# behaviour.md §8.2, row by row: (pattern, testname, itempath, selected)
SPEC_ROWS = [
    ("abc", "abc", "", True),
    ("abc/%", "abc", "", True),
    ("ab%/c%", "abcd", "cde", True),
    ("~abc/c%", "abc", "cde", False),
    ("abc/~c%", "abc", "cde", False),
    ("a,b/c,%/d", "a", "", True),
    ("%/,%/a", "abc", "", True),
    ("%/,%/a", "def", "a", True),
    ("%/,%/a", "ghi", "b", False),
    ("%", "a", "", True),
    ("%", "a", "b", True),
    ("%/", "a", "", True),
    ("%/", "a", "b", False),
    ("a%c", "ABC", "", True),
    ("a*c", "ABC", "", False),
    ("rf/%2", "rf", "b/2", True),
    ("rf/%2", "rf", "", False),
]


@pytest.mark.parametrize("patt,testname,itempath,expected", SPEC_ROWS)
def test_spec_examples(patt, testname, itempath, expected):
    assert match_testpatt(patt, testname, itempath) is expected
    assert compile_testpatt(patt)(testname, itempath) is expected


RF_ITEMS = ["", "summer", "winter", "fall", "spring", "a/1", "b/2"]  # "" is the toplevel


def selected(patt, records):
    match = compile_testpatt(patt)
    return [(t, i) for t, i in records if match(t, i)]


def test_rf_percent2_selects_only_item_b2():
    # The toplevel record is not selected itself; the runner keeps it as the rollup.
    records = [("rf", item) for item in RF_ITEMS]
    assert selected("rf/%2", records) == [("rf", "b/2")]


def test_toplevel_only_pattern():
    records = [("plain", ""), ("rf", "")] + [("rf", i) for i in RF_ITEMS[1:]]
    assert selected("%/", records) == [("plain", ""), ("rf", "")]


def test_toplevels_plus_every_item_named_fall():
    records = [("plain", "")] + [("rf", i) for i in RF_ITEMS]
    assert selected("%/,%/fall", records) == [("plain", ""), ("rf", ""), ("rf", "fall")]


def test_negated_item_part_selects_all_other_items():
    records = [("rf", i) for i in RF_ITEMS[1:]]
    assert [i for _, i in selected("rf/~fall", records)] == ["summer", "winter", "spring", "a/1", "b/2"]


def test_negation_never_subtracts_from_other_elements():
    assert match_testpatt("%,~t", "t", "")
    assert match_testpatt("%,~t", "t", "x")


@pytest.mark.parametrize("patt", ["a,,b", ",a,b", "a,b,", " a , b "])
def test_empty_elements_are_ignored(patt):
    assert match_testpatt(patt, "a", "")
    assert match_testpatt(patt, "b", "x")
    assert not match_testpatt(patt, "c", "")


@pytest.mark.parametrize("patt", ["", ",", ",,", " , "])
def test_no_element_matches_nothing(patt):
    assert not match_testpatt(patt, "a", "")
    assert not match_testpatt(patt, "", "")


@pytest.mark.parametrize("patt,text,expected", [
    ("a.c", "abc", False),      # '.' is literal
    ("a.c", "a.c", True),
    ("a_c", "abc", False),      # '_' is not a LIKE wildcard here
    ("a+", "aa", False),
    ("a(b)", "a(b)", True),
    ("a?c", "abc", False),      # '?' is not a GLOB wildcard here
    ("[ab]", "a", False),
    ("a*c", "abbbc", True),     # '*' is a wildcard in parts without %
    ("a*c%", "abc", False),     # ...and literal in parts with %
    ("a*c%", "A*CDE", True),
    ("%", "", True),
    ("abc", "ABC", False),      # no %: case-sensitive
    ("~abc", "abd", True),
    ("~a%", "ABC", False),
    ("~", "", False),
    ("~", "x", True),
])
def test_match_part(patt, text, expected):
    assert match_part(patt, text) is expected


def test_part_matches_the_whole_string():
    assert not match_part("ab", "abc")
    assert not match_part("b%", "abc")
    assert match_part("%b%", "abc")


def test_item_part_may_contain_slashes():
    assert match_testpatt("t/a/1", "t", "a/1")
    assert not match_testpatt("t/a", "t", "a/1")
    assert match_testpatt("t/%/ptran", "t", "x/ptran")


def test_split_elements():
    assert split_elements("a,b/,c/x/y,,") == [("a", "%"), ("b", ""), ("c", "x/y")]
    assert split_elements("") == []


def test_compiled_patterns_are_cached():
    assert compile_testpatt("a,b/%") is compile_testpatt("a,b/%")


@pytest.mark.parametrize("patt,target,expected", [
    ("x86/%", "x86/linux", True),
    ("X%/LIN%", "x86/linux", True),      # % parts: case-insensitive
    ("X86/%", "x86/linux", False),       # each part decides on its own
    ("x86/lin*", "x86/linux", True),
    ("X86/lin*", "x86/linux", False),    # no %: case-sensitive
    ("x86/%", "x86/linux/extra", True),   # fewer parts: the rest are free
    ("x86/%/a", "x86/linux", False),      # more parts than the target: no match
    ("%", "x86/linux", True),          # missing parts are free (x86 = x86/%)
    ("x86", "x86/linux", True),
    ("linux", "x86/linux", False),
    ("%/%", "a/b", True),
    ("a/b", "a/b", True),
    ("a./b", "ab/b", False),
])
def test_match_target(patt, target, expected):
    assert match_target(patt, target) is expected


@pytest.mark.parametrize("patt,name,expected", [
    ("r%", "Run1", True),
    ("r*", "Run1", False),
    ("R*", "Run1", True),
    ("run1", "run1", True),
    ("run_1", "runX1", False),
])
def test_match_name(patt, name, expected):
    assert match_name(patt, name) is expected
