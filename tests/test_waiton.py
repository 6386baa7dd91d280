"""Dependencies (§9): itemmaps, bad waitons, cycles, automatic inclusion, verdicts, order."""
import pytest

from megatest.config.patterns import compile_testpatt
from megatest.errors import MtError
from megatest.config.waiton import (
    Deps, apply_itemmap, check_no_cycle, clean_waitons, closure, expansion_verdict,
    find_cycle, launch_order_key, parse_itemmap, toplevel_verdict, upstream_verdict,
)


# --- itemmap (§9.3) ---

def test_parse_itemmap_splits_on_first_whitespace():
    text = "(a\\d+)(b\\d+) \\2foo\\1\n  b(.*)   \\1p\n\n/.*\n"
    assert parse_itemmap(text) == [("(a\\d+)(b\\d+)", "\\2foo\\1"), ("b(.*)", "\\1p"), ("/.*", "")]


def test_parse_itemmap_keeps_spaces_inside_replacement():
    assert parse_itemmap("x a b") == [("x", "a b")]


def test_spec_example_rules_apply_in_order():
    rules = parse_itemmap("(a\\d+)(b\\d+) \\2foo\\1\n  b(.*) \\1p")
    assert apply_itemmap(rules[:1], "a123b321") == "b321fooa123"
    assert apply_itemmap(rules, "a123b321") == "321fooa123p"


@pytest.mark.parametrize("mapping,downstream,upstream", [
    ("d a\ne b\nf c", "d/e/f", "a/b/c"),
    ("^([^/]+)/([^/]+)/([^/]+)$ \\3/\\2/\\1", "x/y/z", "z/y/x"),
    (".*/", "blah/5", "5"),
    ("/.*", "layout/ptran", "layout"),
    (".*/ some/", "item/5", "some/5"),
    ("", "same/path", "same/path"),        # no map: identity
    ("nomatch X", "abc", "abc"),
])
def test_spec_itemmap_facts(mapping, downstream, upstream):
    assert apply_itemmap(parse_itemmap(mapping), downstream) == upstream


def test_each_rule_replaces_only_the_first_match():
    assert apply_itemmap(parse_itemmap("a X"), "aaa") == "Xaa"


def test_bad_regex_is_an_error():
    with pytest.raises(MtError, match="bad itemmap regex"):
        parse_itemmap("(unclosed x")


def test_reference_to_missing_group_is_an_error():
    with pytest.raises(MtError, match="group"):
        parse_itemmap("abc \\1")


def test_per_upstream_itemmap_overrides_requirements_itemmap():
    deps = Deps(waitons=["a", "b"], modes={"itemwait"},
                itemmap=parse_itemmap(".*/"), itemmaps={"b": parse_itemmap("/.*")})
    assert apply_itemmap(deps.map_for("a"), "x/1") == "1"
    assert apply_itemmap(deps.map_for("b"), "x/1") == "x"


def test_deps_modes():
    assert Deps(modes={"itemwait"}).itemwait
    assert Deps(modes={"itemmatch"}).itemwait
    assert not Deps(modes={"normal"}).itemwait
    assert Deps(modes={"toplevel", "exclusive"}).toplevel
    assert not Deps().toplevel


# --- bad specifications (§9.6) ---

def test_clean_waitons_drops_unknown_and_self():
    deps = {"t1": Deps(waitons=["nosuch", "t1", "t2"]), "t2": Deps(waitons=[])}
    messages = clean_waitons(deps, known={"t1", "t2"})
    assert messages == [
        "ERROR: test t1: unrecognised waiton nosuch",
        "warning: test t1 waits on itself; ignored",
    ]
    assert deps["t1"].waitons == ["t2"]


def test_clean_waitons_keeps_the_same_list_object():
    waitons = ["x"]
    clean_waitons({"t": Deps(waitons=waitons)}, known={"t"})
    assert waitons == []


def test_clean_waitons_nothing_to_say():
    assert clean_waitons({"a": Deps(waitons=["b"]), "b": Deps()}, known={"a", "b"}) == []


def test_two_test_cycle():
    deps = {"A": Deps(waitons=["B"]), "B": Deps(waitons=["A"])}
    assert find_cycle(deps) == ["A", "B", "A"]
    with pytest.raises(MtError) as exc:
        check_no_cycle(deps)
    assert exc.value.message == "waiton cycle: A -> B -> A"


def test_longer_cycle_reported_without_its_entry_path():
    deps = {"s": Deps(waitons=["x"]), "x": Deps(waitons=["y"]), "y": Deps(waitons=["z"]),
            "z": Deps(waitons=["x"])}
    assert find_cycle(deps) == ["x", "y", "z", "x"]


def test_diamond_is_not_a_cycle():
    deps = {"d": Deps(waitons=["b", "c"]), "b": Deps(waitons=["a"]), "c": Deps(waitons=["a"]),
            "a": Deps()}
    assert find_cycle(deps) is None
    check_no_cycle(deps)


def test_unknown_upstreams_are_leaves():
    assert find_cycle({"a": Deps(waitons=["gone"])}) is None


def test_deep_chain_does_not_hit_the_recursion_limit():
    deps = {f"t{i}": Deps(waitons=[f"t{i + 1}"]) for i in range(5000)}
    assert find_cycle(deps) is None
    deps["t4999"].waitons.append("t0")
    assert len(find_cycle(deps)) == 5001


# --- automatic inclusion (§9.4) ---

def elements(patt):
    return set(patt.split(","))


def test_patt_b_includes_its_upstream_a():
    deps = {"A": Deps(), "B": Deps(waitons=["A"])}
    assert elements(closure("B", deps, iterated=set())) == {"B", "A"}


def test_unselected_tests_pull_nothing_in():
    deps = {"A": Deps(), "B": Deps(waitons=["A"]), "C": Deps()}
    assert closure("C", deps, iterated=set()) == "C"


def test_itemwait_chain_selects_one_item_of_each():
    chain = ["t0", "t1", "t2", "t3"]
    deps = {"t0": Deps()}
    for up, down in zip(chain, chain[1:] + ["seq"]):
        deps[down] = Deps(waitons=[up], modes={"itemwait"})
    iterated = set(deps)
    patt = closure("seq/item.1", deps, iterated)
    assert elements(patt) == {"seq/item.1", "t0/item.1", "t1/item.1", "t2/item.1", "t3/item.1"}
    match = compile_testpatt(patt)
    records = [(t, f"item.{k}") for t in deps for k in range(1, 12)]
    assert sorted(t for t, i in records if match(t, i)) == sorted(deps)
    assert all(i == "item.1" for t, i in records if match(t, i))


def test_itemwait_with_item_pattern_and_normal_upstream():
    deps = {"setup": Deps(), "test1": Deps(waitons=["setup"]),
            "test2": Deps(waitons=["test1"], modes={"itemwait"})}
    patt = closure("test2/%/ptran", deps, iterated={"test1", "test2"})
    assert elements(patt) == {"setup", "test1/%/ptran", "test2/%/ptran"}


def test_itemmap_is_applied_to_the_pattern_text():
    deps = {"mid": Deps(), "down": Deps(waitons=["mid"], modes={"itemwait"},
                                        itemmap=parse_itemmap(".*/"))}
    assert elements(closure("down/blah/K", deps, {"mid", "down"})) == {"down/blah/K", "mid/K"}


def test_not_useful_mapped_pattern_becomes_everything():
    deps = {"up": Deps(), "down": Deps(waitons=["up"], modes={"itemwait"},
                                       itemmap=parse_itemmap(".*"))}
    assert elements(closure("down/x", deps, {"up", "down"})) == {"down/x", "up/%"}
    deps["down"].itemmap = []
    assert elements(closure("down/~x", deps, {"up", "down"})) == {"down/~x", "up/%"}


def test_itemwait_on_non_iterated_upstream_adds_all_of_it():
    deps = {"up": Deps(), "down": Deps(waitons=["up"], modes={"itemwait"})}
    assert elements(closure("down/3", deps, iterated={"down"})) == {"down/3", "up"}


def test_itemwait_selected_without_item_part_adds_all_of_upstream():
    deps = {"up": Deps(), "down": Deps(waitons=["up"], modes={"itemwait"})}
    assert elements(closure("down", deps, iterated={"up", "down"})) == {"down", "up"}


def test_toplevel_mode_adds_all_of_upstream():
    deps = {"up": Deps(), "agg": Deps(waitons=["up"], modes={"toplevel"})}
    assert elements(closure("agg/3", deps, iterated={"up", "agg"})) == {"agg/3", "up"}


def test_wildcard_and_negated_selectors_pull_in_upstreams():
    deps = {"a": Deps(), "b": Deps(waitons=["a"]), "c": Deps(waitons=["b"])}
    assert elements(closure("c%", deps, set())) == {"c%", "b", "a"}
    assert elements(closure("~a", deps, set())) == {"~a", "a", "b"}


def test_closure_deduplicates_and_keeps_original_order_first():
    deps = {"a": Deps(), "b": Deps(waitons=["a"]), "c": Deps(waitons=["a", "b"])}
    assert closure("c,b,,c", deps, set()) == "c,b,a"


def test_closure_of_empty_pattern_is_empty():
    assert closure("", {"a": Deps()}, set()) == ""


# --- verdicts (§9.5, §9.2) ---

@pytest.mark.parametrize("state,status,verdict", [
    ("COMPLETED", "PASS", "ok"),
    ("COMPLETED", "WARN", "ok"),
    ("COMPLETED", "CHECK", "ok"),
    ("COMPLETED", "WAIVED", "ok"),
    ("COMPLETED", "SKIP", "ok"),
    ("COMPLETED", "FAIL", "failed"),
    ("COMPLETED", "ABORT", "failed"),
    ("COMPLETED", "DEAD", "failed"),
    ("COMPLETED", "AUTO", "failed"),
    ("KILLED", "KILLED", "failed"),
    ("INCOMPLETE", "KILLED", "failed"),
    ("WEIRD", "PASS", "failed"),
    ("NOT_STARTED", "PREQ_FAIL", "blocked"),
    ("NOT_STARTED", "PREQ_DISCARDED", "blocked"),
    ("NOT_STARTED", "ZERO_ITEMS", "blocked"),
    ("NOT_STARTED", "BLOCKED", "blocked"),
    ("NOT_STARTED", "TIMED_OUT", "blocked"),
    ("NOT_STARTED", "TEN_STRIKES", "blocked"),
    ("NOT_STARTED", "n/a", "wait"),
    ("NOT_STARTED", "", "wait"),
    ("NOT_STARTED", "KEEP_TRYING", "wait"),
    ("LAUNCHED", "n/a", "wait"),
    ("REMOTEHOSTSTART", "n/a", "wait"),
    ("RUNNING", "PASS", "wait"),
    ("KILLREQ", "n/a", "wait"),
    ("CLEANING", "LOCKED", "wait"),
])
def test_upstream_verdict(state, status, verdict):
    assert upstream_verdict(state, status) == verdict


@pytest.mark.parametrize("state,status,verdict", [
    ("COMPLETED", "FAIL", "ok"),
    ("KILLED", "KILLED", "ok"),
    ("NOT_STARTED", "PREQ_DISCARDED", "ok"),   # aggregators still run, last
    ("NOT_STARTED", "ZERO_ITEMS", "ok"),
    ("NOT_STARTED", "n/a", "wait"),
    ("RUNNING", "n/a", "wait"),
    ("LAUNCHED", "n/a", "wait"),
])
def test_toplevel_verdict(state, status, verdict):
    assert toplevel_verdict(state, status) == verdict


@pytest.mark.parametrize("state,status,verdict", [
    ("RUNNING", "PASS", "ok"),
    ("COMPLETED", "FAIL", "ok"),
    ("NOT_STARTED", "n/a", "wait"),
    ("NOT_STARTED", "ZERO_ITEMS", "blocked"),
])
def test_expansion_verdict(state, status, verdict):
    assert expansion_verdict(state, status) == verdict


# --- launch order (§13.2) ---

def test_launch_order():
    ready = [("b", 1, False), ("a", 1, False), ("z", 10, False), ("c", 1, True), ("y", "10", True)]
    ordered = sorted(ready, key=lambda r: launch_order_key(r[1], r[2], r[0]))
    assert [name for name, _, _ in ordered] == ["y", "z", "c", "a", "b"]


def test_missing_priority_is_zero():
    assert launch_order_key(None, False, "a") < launch_order_key(-1, False, "a")
    assert launch_order_key("", False, "a") == launch_order_key(0, False, "a")


def test_bad_priority_is_an_error():
    with pytest.raises(MtError, match="bad priority 'high'"):
        launch_order_key("high", False, "t")
