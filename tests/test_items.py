"""Item expansion (§7): cross product, itemstable columns, zero items, unsafe values."""
import pytest

from megatest.config.items import check_item_value, expand_items, item_info, item_path
from megatest.errors import MtError


def paths(items):
    return [item_path(item) for item in items]


def test_cross_product_first_variable_outermost():
    items = expand_items([("A", "1 2"), ("B", "x y")], [])
    assert paths(items) == ["1/x", "1/y", "2/x", "2/y"]
    assert items[1] == {"A": "1", "B": "y"}
    assert list(items[1]) == ["A", "B"]  # variable order is kept


def test_sections_may_be_given_as_dicts():
    assert paths(expand_items({"A": "1 2"}, {"S": "p"})) == ["1", "2", "p"]


def test_values_split_on_any_whitespace():
    assert paths(expand_items([("A", "  1\t2\n 3 ")], [])) == ["1", "2", "3"]


def test_itemstable_columns_fill_missing_cells_with_dash():
    items = expand_items([], [("SHAPE", "box cone ring"), ("SIZE", "1   2")])
    assert paths(items) == ["box/1", "cone/2", "ring/-"]
    assert items[2] == {"SHAPE": "ring", "SIZE": "-"}


def test_acceptance_17_itemstable():
    assert paths(expand_items(None, [("S", "p q s"), ("Z", "1 2")])) == ["p/1", "q/2", "s/-"]


def test_items_and_itemstable_are_concatenated_not_multiplied():
    items = expand_items([("A", "1 2"), ("B", "x y")], [("S", "p q"), ("Z", "1 2")])
    assert paths(items) == ["1/x", "1/y", "2/x", "2/y", "p/1", "q/2"]
    assert len(items) + 1 == 7  # plus the toplevel record


@pytest.mark.parametrize("items,table", [(None, None), ([], []), (None, [])])
def test_absent_or_empty_sections_mean_not_iterated(items, table):
    assert expand_items(items, table) is None


def test_spec_animals_and_seasons():
    items = expand_items([("ANIMAL", "Elephant Lion"), ("SEASON", "Spring Fall")], [])
    assert len(items) == 4
    assert items[0] == {"ANIMAL": "Elephant", "SEASON": "Spring"}


def test_valueless_variable_among_others_gives_zero_items():
    items = expand_items([("a", "a b c d"), ("b", "c d e"), ("c", ""), ("d", None)], [])
    assert items == []


def test_one_valueless_variable_gives_zero_items():
    assert expand_items([("K", "")], []) == []


def test_spec_itemstable_animals():
    items = expand_items([], [("ANIMAL", "Elephant Lion"), ("SEASON", "Spring Winter")])
    assert paths(items) == ["Elephant/Spring", "Lion/Winter"]


@pytest.mark.parametrize("table", [[("K", "")], [("K", None)], [("K", "   ")]])
def test_itemstable_without_values_gives_zero_items(table):
    assert expand_items([], table) == []


def test_empty_item_has_empty_itempath():
    assert item_path({}) == ""


def test_duplicate_itempath_keeps_first_and_warns():
    warnings = []
    items = expand_items([("A", "1 2 1")], [("B", "2 3")], warn=warnings.append)
    assert paths(items) == ["1", "2", "3"]
    assert items[1] == {"A": "2"}  # the [items] one, not the [itemstable] one
    assert len(warnings) == 2
    assert all("duplicate item" in w for w in warnings)
    assert "'1'" in warnings[0] and "'2'" in warnings[1]


def test_duplicates_without_a_callback_are_still_dropped():
    assert paths(expand_items([("A", "x x")], [])) == ["x"]


def test_value_with_slash_is_allowed_and_adds_a_level():
    items = expand_items([("V", "blah/3 a/1")], [])
    assert paths(items) == ["blah/3", "a/1"]


def test_expand_refuses_unsafe_values_when_asked_to_check():
    with pytest.raises(MtError, match=r"item variable A: unsafe value '\.\.'"):
        expand_items([("A", "ok ..")], [], check=True)


def test_expand_leaves_the_check_to_the_caller_by_default():
    assert paths(expand_items([("A", "$x")], [])) == ["$x"]


@pytest.mark.parametrize("value", [
    "a1", "item.1", "blah/3", "a/1", "x-y_z", "v1.2.3", "-", "a=b", "k:v", "a+b", "a,b", "a@b", "...",
])
def test_safe_values(value):
    check_item_value("V", value)


@pytest.mark.parametrize("value,reason", [
    ("", "is empty"),
    ("..", "path component '..'"),
    (".", "path component '.'"),
    ("a/../b", "path component '..'"),
    ("a/./b", "path component '.'"),
    ("/etc", "starts with '/'"),
    ("a//b", "empty path component"),
    ("a/", "empty path component"),
    ("a\x00b", "control character"),
    ("a\nb", "control character"),
    ("a\x7fb", "control character"),
    ("a b", "contains ' '"),
    ("a;rm", "contains ';'"),
    ("$(x)", "contains '$'"),
    ("`x`", "contains '`'"),
    ("a|b", "contains '|'"),
    ("a&b", "contains '&'"),
    ("a>b", "contains '>'"),
    ("a<b", "contains '<'"),
    ("a'b", "contains \"'\""),
    ('a"b', "contains '\"'"),
    ("a\\b", "contains '\\\\'"),
    ("a*", "contains '*'"),
    ("a?", "contains '?'"),
    ("[a]", "contains '['"),
    ("{a}", "contains '{'"),
    ("a!", "contains '!'"),
    ("#a", "contains '#'"),
    ("~a", "contains '~'"),
    ("(a)", "contains '('"),
])
def test_unsafe_values(value, reason):
    with pytest.raises(MtError) as exc:
        check_item_value("MYVAR", value)
    message = str(exc.value)
    assert message.startswith(f"item variable MYVAR: unsafe value {value!r}: ")
    assert reason in message


def test_item_info_form():
    assert item_info({"A": "1", "B": "x"}) == "((A 1) (B x))"
    assert item_info({}) == "()"
