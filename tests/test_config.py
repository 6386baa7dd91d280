"""The config language: behaviour.md §3, §5 and §17 items 1-7, on real files under tmp_path."""
import os
import subprocess
import textwrap

import pytest

from megatest.config.parse import (Config, eval_env_section, list_targets, parse_hms, read_config,
                             read_runconfig, run_system)
from megatest.errors import MtError

DATA = os.path.join(os.path.dirname(__file__), "data", "config")


def write(path, text, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    if mode:
        path.chmod(mode)
    return path


@pytest.fixture
def parse(tmp_path):
    """parse(text, **kw) -> (Config, warnings) for text written to tmp_path/cfg/main.cfg."""
    def _parse(text, name="cfg/main.cfg", **kw):
        warnings = []
        kw.setdefault("environ", {"PATH": os.environ["PATH"], "HOME": "/home/u"})
        cfg = read_config(write(tmp_path / name, text), toppath=str(tmp_path), warn=warnings.append, **kw)
        return cfg, warnings
    return _parse


# -- §3.1 logical lines and values (§17.1, §17.2) ------------------------------------------------

def test_value_keeps_inner_and_trailing_whitespace_and_has_no_inline_comments(parse):
    cfg, _ = parse("[s]\nK   a b  c\nC v # n\nT x  \n# K overwritten\n")
    assert cfg.section("s") == {"K": "a b  c", "C": "v # n", "T": "x  "}


def test_demo_example_from_spec(parse):
    cfg, warnings = parse("[demo]\nspaced   a b   c\njoined alpha \\\nbeta\nmulti one\n    two\n      three\n")
    assert cfg.get("demo", "spaced") == "a b   c"
    assert cfg.get("demo", "joined") == "alpha beta"
    assert cfg.get("demo", "multi") == "one\ntwo\n  three"
    assert warnings == []


def test_backslash_joins_lines_without_inserting_anything(parse):
    cfg, _ = parse("[s]\nA abc \\\ndef\nB x\\\ny\\\nz\n")
    assert cfg.get("s", "A") == "abc def"
    assert cfg.get("s", "B") == "xyz"


def test_continuation_line_with_smaller_indent_loses_all_its_indent(parse):
    cfg, _ = parse("[s]\nK a\n    b\n  c\n")
    assert cfg.get("s", "K") == "a\nb\nc"


def test_continuation_after_key_only_and_system_lines(parse):
    cfg, _ = parse("[s]\nK\n  more\nS [system echo hi]\n  tail\n")
    assert cfg.get("s", "K") == "\nmore"
    assert cfg.get("s", "S") == "hi\ntail"


@pytest.mark.parametrize("before", ["\n", "# comment\n", "[t]\n", "[include nothere.cfg]\n", "[s]\n"])
def test_indented_line_with_nothing_to_continue_warns_and_is_ignored(parse, before):
    cfg, warnings = parse(f"[s]\nK first\n{before}   stray\nL 1\n")
    assert cfg.get("s", "K") == "first"
    assert "stray" not in repr(cfg.sections)
    assert len(warnings) == 1 and "main.cfg:" in warnings[0] and "nothing to continue" in warnings[0]


def test_lines_before_first_header_belong_to_default(parse):
    cfg, _ = parse("A 1\n[s]\nB 2\n")
    assert cfg.section("default") == {"A": "1"}
    assert cfg.section("s") == {"B": "2"}


def test_key_only_is_empty_string_without_environment_side_effect(parse):
    env = {"PATH": os.environ["PATH"]}
    cfg, _ = parse("[s]\nMT_CFG_TEST_KEYONLY\nX [system env]\n", environ=env)
    assert cfg.get("s", "MT_CFG_TEST_KEYONLY") == ""
    assert "MT_CFG_TEST_KEYONLY" not in os.environ
    assert "MT_CFG_TEST_KEYONLY" not in cfg.get("s", "X")
    assert env == {"PATH": os.environ["PATH"]}


def test_repeated_key_replaces_value_and_moves_to_end(parse):
    cfg, _ = parse("[items]\nA 1\nB 2\nA 3\n")
    assert list(cfg.section("items").items()) == [("B", "2"), ("A", "3")]


def test_empty_section_exists(parse):
    cfg, _ = parse("[empty]\n[s]\nK v\n")
    assert cfg.has_section("empty") and cfg.section("empty") == {}
    assert not cfg.has_section("missing") and cfg.section("missing") == {}


def test_section_returns_a_copy(parse):
    cfg, _ = parse("[s]\nK v\n")
    cfg.section("s")["K"] = "changed"
    assert cfg.get("s", "K") == "v"
    assert cfg.get("s", "nope", "dflt") == "dflt"


def test_keys_are_any_non_space_text(parse):
    cfg, _ = parse("[s]\na/b=c:d value\n")
    assert cfg.get("s", "a/b=c:d") == "value"


def test_locations_give_file_and_line_of_the_setting_line(parse, tmp_path):
    cfg, _ = parse("# c\n[s]\nK 1\nL 2\n  more\nK 3\n")
    path = str(tmp_path / "cfg/main.cfg")
    assert cfg.location("s", "K") == (path, 6)
    assert cfg.location("s", "L") == (path, 4)
    assert cfg.location("s", "nope") == (None, None)


def test_trim_trailing_spaces_applies_to_later_lines_and_later_files(parse, tmp_path):
    write(tmp_path / "cfg/inc.cfg", "I v   \n")
    cfg, _ = parse("[s]\nA a  \n[configf:settings trim-trailing-spaces yes]\nB b  \n"
                   "[include inc.cfg]\n[configf:settings trim-trailing-spaces no]\nC c  \n")
    assert cfg.section("s") == {"A": "a  ", "B": "b", "I": "v", "C": "c  "}


def test_trim_removes_trailing_tab_and_makes_key_only(parse):
    cfg, _ = parse("[configf:settings trim-trailing-spaces yes]\n[s]\nK \t \n")
    assert cfg.get("s", "K") == ""


def test_unknown_parser_setting_warns(parse):
    _, warnings = parse("[configf:settings frobnicate yes]\n")
    assert len(warnings) == 1 and "main.cfg:1:" in warnings[0]


def test_crlf_line_endings(parse):
    cfg, _ = parse("[s]\r\nK v\r\nJ a\\\r\nb\r\n")
    assert cfg.section("s") == {"K": "v", "J": "ab"}


# -- include (§17.3) ---------------------------------------------------------------------------

def test_include_is_relative_to_including_file_and_resumes_in_includers_section(parse, tmp_path):
    write(tmp_path / "cfg/sub/x.cfg", "FROM_INC 1\n[other]\nO 2\n")
    cfg, warnings = parse("[s]\nA 0\n[include sub/x.cfg]\nB 3\n")
    assert cfg.section("s") == {"A": "0", "FROM_INC": "1", "B": "3"}
    assert cfg.section("other") == {"O": "2"}
    assert cfg.location("s", "FROM_INC") == (str(tmp_path / "cfg/sub/x.cfg"), 1)
    assert warnings == []


def test_nested_include_is_relative_to_its_own_directory(parse, tmp_path):
    write(tmp_path / "cfg/sub/x.cfg", "[include deeper/y.cfg]\n")
    write(tmp_path / "cfg/sub/deeper/y.cfg", "Y yes\n")
    cfg, _ = parse("[s]\n[include sub/x.cfg]\n")
    assert cfg.get("s", "Y") == "yes"


def test_missing_include_is_silent_and_parsing_continues(parse):
    cfg, warnings = parse("[s]\n[include nothere.cfg]\nK v\n")
    assert cfg.section("s") == {"K": "v"}
    assert warnings == []


def test_include_path_expands_helpers_and_get_sees_included_values(parse, tmp_path):
    write(tmp_path / "cfg/linux.config", "[s]\nOS_VAL penguin\n")
    cfg, _ = parse("[include #{getenv os}.config]\n[t]\nV #{get s OS_VAL}!\n",
                   environ={"os": "linux", "PATH": os.environ["PATH"]})
    assert cfg.get("t", "V") == "penguin!"


def test_include_cycle_is_a_config_error(parse, tmp_path):
    write(tmp_path / "cfg/b.cfg", "[include main.cfg]\n")
    with pytest.raises(MtError) as e:
        parse("[s]\n[include b.cfg]\n")
    assert "cycle" in str(e.value)
    assert e.value.path == str(tmp_path / "cfg/b.cfg") and e.value.line == 1


def test_same_file_included_twice_is_not_a_cycle(parse, tmp_path):
    write(tmp_path / "cfg/x.cfg", "X 1\n")
    cfg, _ = parse("[a]\n[include x.cfg]\n[b]\n[include x.cfg]\n")
    assert cfg.get("a", "X") == "1" and cfg.get("b", "X") == "1"


# -- scriptinc -----------------------------------------------------------------------------------

def test_scriptinc_output_is_parsed_in_current_section(parse, tmp_path):
    write(tmp_path / "cfg/gen.sh", '#!/bin/sh\necho "ARG $1"\necho "  cont"\necho "[made]"\necho "M 1"\n', 0o755)
    cfg, warnings = parse("[s]\n[scriptinc gen.sh hello]\nAFTER 1\n")
    assert cfg.section("s") == {"ARG": "hello\ncont", "AFTER": "1"}
    assert cfg.section("made") == {"M": "1"}
    assert warnings == []


def test_scriptinc_nonzero_exit_warns_but_output_is_used(parse, tmp_path):
    write(tmp_path / "cfg/bad.sh", "#!/bin/sh\necho 'K v'\nexit 4\n", 0o755)
    cfg, warnings = parse("[s]\n[scriptinc bad.sh]\n")
    assert cfg.get("s", "K") == "v"
    assert len(warnings) == 1 and "main.cfg:2:" in warnings[0] and "code 4" in warnings[0]


@pytest.mark.parametrize("mode", [None, 0o644])
def test_scriptinc_missing_or_not_executable_warns_and_continues(parse, tmp_path, mode):
    if mode:
        write(tmp_path / "cfg/gen.sh", "#!/bin/sh\necho K v\n", mode)
    cfg, warnings = parse("[s]\n[scriptinc gen.sh]\nL 1\n")
    assert cfg.section("s") == {"L": "1"}
    assert len(warnings) == 1 and "main.cfg:2:" in warnings[0]


# -- system value --------------------------------------------------------------------------------

def test_system_value_joins_lines_with_spaces_and_uses_environ(parse):
    cfg, _ = parse("[s]\nK [system printf 'a\\nb\\n'; echo $WHO]\n",
                   environ={"WHO": "me", "PATH": os.environ["PATH"]})
    assert cfg.get("s", "K") == "a b me"


def test_system_value_nonzero_exit_warns_and_keeps_text(parse):
    cfg, warnings = parse("[s]\nK [system echo out; exit 5]\n")
    assert cfg.get("s", "K") == "out"
    assert len(warnings) == 1 and "main.cfg:2:" in warnings[0] and "code 5" in warnings[0]


def test_system_not_at_end_of_line_is_literal(parse, tmp_path):
    cfg, _ = parse(f"[s]\nK a [system touch {tmp_path}/ran] b\nL [system x\n")
    assert cfg.get("s", "K") == f"a [system touch {tmp_path}/ran] b"
    assert cfg.get("s", "L") == "[system x"
    assert not (tmp_path / "ran").exists()


def test_system_value_deferred_in_named_sections(parse, tmp_path):
    cfg, _ = parse(f"[items]\nN [system touch {tmp_path}/ran; echo 1 2]\n[other]\nO [system echo now]\n",
                   defer_system_in=("items", "itemstable"))
    assert cfg.get("items", "N") == f"touch {tmp_path}/ran; echo 1 2"
    assert ("items", "N") in cfg.deferred
    assert cfg.get("other", "O") == "now" and ("other", "O") not in cfg.deferred
    assert not (tmp_path / "ran").exists()


def test_deferred_mark_cleared_when_key_is_redefined(parse):
    cfg, _ = parse("[items]\nN [system echo 1]\nN 2 3\n", defer_system_in=("items",))
    assert cfg.get("items", "N") == "2 3" and cfg.deferred == set()


# -- §3.2 templates (§17.6) ----------------------------------------------------------------------

def test_template_later_definition_wins(parse):
    cfg, _ = parse("[b/2/x]\nV 1\nW 1\n[b/%/x]\nV 2\n")
    assert cfg.section("b/2/x") == {"W": "1", "V": "2"}
    assert not cfg.has_section("b/%/x")


def test_concrete_section_after_template_overrides_and_is_not_reached(parse):
    cfg, _ = parse("[a/b]\n[a/%]\nZ 9\nX 0\n[a/b]\nX 2\n[a/c]\nY 1\n")
    assert cfg.section("a/b") == {"Z": "9", "X": "2"}
    assert cfg.section("a/c") == {"Y": "1"}


def test_regex_template_must_match_whole_name(parse):
    cfg, _ = parse("[b/1/y]\n[b/22/y]\n[b/x/y]\n[b/1/yy]\n[/b\\/[0-9]+\\/y/]\nR 1\n")
    assert cfg.get("b/1/y", "R") == "1" and cfg.get("b/22/y", "R") == "1"
    assert cfg.section("b/x/y") == {} and cfg.section("b/1/yy") == {}


def test_percent_template_treats_other_characters_literally(parse):
    cfg, _ = parse("[a.x]\n[abx]\n[a.%]\nT 1\n")
    assert cfg.get("a.x", "T") == "1"
    assert cfg.section("abx") == {}


def test_template_never_applies_to_default(parse):
    cfg, _ = parse("D 1\n[%]\nT 1\n[s]\n")
    assert cfg.section("default") == {"D": "1"}
    assert cfg.section("s") == {}


def test_template_ends_at_end_of_file(parse):
    cfg, _ = parse("[x1]\n[x%]\nT 1\n")
    assert cfg.section("x1") == {"T": "1"} and not cfg.has_section("x%")


def test_template_continuation_and_location_are_copied(parse, tmp_path):
    cfg, _ = parse("[x1]\n[x%]\nT a\n  b\n")
    assert cfg.get("x1", "T") == "a\nb"
    assert cfg.location("x1", "T") == (str(tmp_path / "cfg/main.cfg"), 3)


def test_bad_regex_template_is_a_config_error(parse):
    with pytest.raises(MtError) as e:
        parse("[s]\n[/a(/]\n")
    assert e.value.line == 2


def test_precreate_lets_templates_reach_a_section(parse):
    cfg, _ = parse("[a/%]\nZ 9\n", precreate=("a/b",))
    assert cfg.section("a/b") == {"Z": "9"}


# -- §3.4 helpers (§17.4, §17.5) -----------------------------------------------------------------

def test_shell_helper_turns_newlines_into_spaces(parse):
    cfg, _ = parse("[s]\nA #{shell printf 'a\\nb'}\nB #{sh echo x; echo y}\n")
    assert cfg.get("s", "A") == "a b"
    assert cfg.get("s", "B") == "x y"


def test_shell_helper_failure_gives_empty_and_warning_with_file_line_and_exit_code(parse):
    cfg, warnings = parse("[s]\n\nA x#{shell echo out; exit 7}y\n")
    assert cfg.get("s", "A") == "xy"
    assert len(warnings) == 1 and "main.cfg:3:" in warnings[0] and "code 7" in warnings[0]


def test_system_helper_gives_exit_code_and_discards_output(parse, capfd):
    cfg, _ = parse("[s]\nA #{system exit 3}\nB #{system echo loud; echo err >&2}\n")
    assert cfg.get("s", "A") == "3" and cfg.get("s", "B") == "0"
    out, err = capfd.readouterr()
    assert "loud" not in out and "err" not in err


def test_getenv_helper_and_unset_variable(parse):
    cfg, warnings = parse("[s]\nA #{getenv WHO}\nB <#{gv MT_SURELY_UNSET}>\n",
                          environ={"WHO": "me", "PATH": "/bin"})
    assert cfg.get("s", "A") == "me" and cfg.get("s", "B") == "<>"
    assert warnings == []


def test_get_helper_sees_earlier_values_only(parse):
    cfg, warnings = parse("[s]\nX 5\nY #{get s X}0\nZ #{g s LATER}!\nLATER 1\n")
    assert cfg.get("s", "Y") == "50"
    assert cfg.get("s", "Z") == "!"
    assert len(warnings) == 1 and "main.cfg:4:" in warnings[0]


def test_helpers_nest_inside_out(parse):
    cfg, _ = parse("[linux]\nwaitlist a b\n[s]\nW #{get #{getenv OS} waitlist}\n",
                   environ={"OS": "linux", "PATH": "/bin"})
    assert cfg.get("s", "W") == "a b"


def test_rightmost_helper_runs_first(parse, tmp_path):
    log = tmp_path / "order"
    cfg, _ = parse(f"[s]\nK #{{shell echo L >> {log}}}#{{shell echo R >> {log}}}\n")
    assert log.read_text() == "R\nL\n"


def test_unknown_helper_stays_literal_with_a_warning_and_others_still_expand(parse):
    cfg, warnings = parse("[s]\nK #{foo x} #{getenv A} #{foo #{getenv A}}\n", environ={"A": "1"})
    assert cfg.get("s", "K") == "#{foo x} 1 #{foo 1}"
    assert len(warnings) == 2 and all("main.cfg:2: unknown helper #{foo" in w for w in warnings)


@pytest.mark.parametrize("line", ["linktree #{mtrah lt", "K #{getenv A} #{shell echo"])
def test_unclosed_helper_is_a_config_error_naming_file_and_line(parse, tmp_path, line):
    with pytest.raises(MtError) as e:
        parse(f"[setup]\n{line}\n", environ={"A": "1"})
    assert str(e.value).startswith(f"{tmp_path}/cfg/main.cfg:2: unclosed helper '#{{")


def test_helper_results_are_not_expanded_again(parse, tmp_path):
    cfg, _ = parse("[s]\nK #{getenv A}\n", environ={"A": f"#{{shell touch {tmp_path}/ran}}"})
    assert cfg.get("s", "K") == f"#{{shell touch {tmp_path}/ran}}"
    assert not (tmp_path / "ran").exists()


def test_mtrah_helper(parse, tmp_path):
    cfg, _ = parse("[s]\nA #{mtrah}\nB #{mtrah t}\n")
    assert cfg.get("s", "A") == str(tmp_path)
    assert cfg.get("s", "B") == f"{tmp_path}/t"


def test_rp_and_realpath_helpers(parse, tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    cfg, _ = parse(f"[s]\nA #{{rp {tmp_path}/link/../real/./x}}\nB #{{realpath {tmp_path}/link}}\nC #{{rp ../real}}\n")
    real = os.path.realpath(tmp_path / "real")
    assert cfg.get("s", "A") == os.path.join(real, "x")
    assert cfg.get("s", "B") == real
    assert cfg.get("s", "C") == real  # relative to the file's directory (cfg/)


def test_helpers_expand_in_section_headers(parse):
    cfg, _ = parse("[#{getenv T}]\nK v\n", environ={"T": "a/b"})
    assert cfg.section("a/b") == {"K": "v"}


def test_helpers_on_comment_lines_run_as_in_megatest(parse, tmp_path):
    """fullrun's runconfigs.config writes a file from a comment line, then includes it."""
    inc = tmp_path / "cfg" / "made.config"
    cfg, warnings = parse(f"[s]\n# #{{system echo 'M made' > {inc}}}\n[include made.config]\n"
                          "# note: #{nosuch helper} and an unclosed #{ here\nK v\n")
    assert cfg.section("s") == {"M": "made", "K": "v"}
    assert warnings == []       # a comment's unknown helper or stray #{ is only text


def test_line_starting_with_a_helper_is_expanded(parse):
    cfg, _ = parse("[s]\n#{getenv K} value\n", environ={"K": "FROMENV"})
    assert cfg.get("s", "FROMENV") == "value"


@pytest.mark.parametrize("expr", ["#{scheme (+ 1 2)}", "#{scm (+ 1 2)}"])
def test_scheme_helper_is_evaluated(tmp_path, expr):
    path = write(tmp_path / "megatest.config", f"[setup]\nmax_concurrent_jobs {expr}\n")
    assert read_config(path, toppath=str(tmp_path), environ={}).get("setup", "max_concurrent_jobs") == "3"


def test_scheme_outside_the_subset_is_a_config_error_naming_file_line_and_procedure(tmp_path):
    path = write(tmp_path / "megatest.config", "[fields]\narch TEXT\n\n[setup]\n# x\n"
                 "K #{scheme (system \"touch x\")}\n")
    with pytest.raises(MtError) as e:
        read_config(path, toppath=str(tmp_path), environ={})
    assert str(e.value).startswith(f"{path}:6: #{{scheme ...}}: ")
    assert "system" in str(e.value)


def test_rget_outside_runconfigs_uses_given_runconfig(parse):
    cfg, warnings = parse("[s]\nA #{rget OPT}\nB #{runconfigs-get NOPE}.\n", runconfig={"OPT": "-O2"})
    assert cfg.get("s", "A") == "-O2" and cfg.get("s", "B") == "."
    assert len(warnings) == 1 and "main.cfg:3:" in warnings[0]


def test_dollar_var_is_not_expanded_by_the_parser(parse):
    cfg, _ = parse("[s]\nP $HOME/bin\nQ ${HOME}\n")
    assert cfg.get("s", "P") == "$HOME/bin" and cfg.get("s", "Q") == "${HOME}"


def test_commands_use_environ_and_it_is_not_mutated(parse):
    env = {"PATH": os.environ["PATH"], "FOO": "bar"}
    cfg, _ = parse("[s]\nA #{shell echo $FOO}\nK\n", environ=env)
    assert cfg.get("s", "A") == "bar"
    assert env == {"PATH": os.environ["PATH"], "FOO": "bar"}


# -- §3.6 errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line", ["[abc", "[abc] trailing"])
def test_unclosed_or_bad_section_header_is_config_error(parse, line):
    with pytest.raises(MtError) as e:
        parse(f"[s]\nK v\n{line}\n")
    assert e.value.line == 3 and e.value.path.endswith("main.cfg")


def test_missing_file_is_an_error_naming_the_path(tmp_path):
    with pytest.raises(MtError) as e:
        read_config(tmp_path / "nope.config", toppath=str(tmp_path))
    assert str(tmp_path / "nope.config") in str(e.value)


def test_default_warn_goes_to_logging(tmp_path, caplog):
    path = write(tmp_path / "c.cfg", "[s]\n  stray\n")
    with caplog.at_level("WARNING", logger="megatest.config"):
        read_config(path, toppath=str(tmp_path))
    assert f"{path}:2:" in caplog.text


# -- §5 runconfigs.config (§17.6) ----------------------------------------------------------------

RUNCONFIG = "[default]\nX 1\nY 0\n[a/b]\nX 2\n[a/%]\nZ 9\n"


def test_runconfig_resolution_per_target(tmp_path):
    path = write(tmp_path / "runconfigs.config", RUNCONFIG)
    assert read_runconfig(path, "a/b", toppath=str(tmp_path), environ={}) == {"X": "2", "Y": "0", "Z": "9"}
    assert read_runconfig(path, "a/c", toppath=str(tmp_path), environ={}) == {"X": "1", "Y": "0", "Z": "9"}
    assert read_runconfig(path, "q/r", toppath=str(tmp_path), environ={}) == {"X": "1", "Y": "0"}


def test_runconfig_concrete_section_after_template_overrides(tmp_path):
    path = write(tmp_path / "runconfigs.config", "[a/%]\nZ 9\nW 1\n[a/b]\nZ 10\n")
    assert read_runconfig(path, "a/b", toppath=str(tmp_path), environ={}) == {"Z": "10", "W": "1"}


def test_runconfig_values_are_raw(tmp_path):
    path = write(tmp_path / "runconfigs.config", "[default]\nP $HOME/bin\nE\n")
    assert read_runconfig(path, "a/b", toppath=str(tmp_path), environ={}) == {"P": "$HOME/bin", "E": ""}


def test_runconfig_missing_file_warns_once_and_is_empty(tmp_path):
    warnings = []
    assert read_runconfig(tmp_path / "runconfigs.config", "a/b", toppath=str(tmp_path),
                          warn=warnings.append) == {}
    assert len(warnings) == 1 and "runconfigs.config" in warnings[0]


def test_runconfig_include_by_key_variable(tmp_path):
    write(tmp_path / "linux.config", "[a/b]\nFROM linux\n")
    path = write(tmp_path / "runconfigs.config", "[default]\nOPT -O2\n[include #{getenv os}.config]\n")
    got = read_runconfig(path, "a/b", toppath=str(tmp_path), environ={"os": "linux"})
    assert got == {"OPT": "-O2", "FROM": "linux"}


def test_runconfig_commands_run_only_for_default_target_and_matching_templates(tmp_path):
    m = tmp_path / "m"
    path = write(tmp_path / "runconfigs.config", textwrap.dedent(f"""\
        [default]
        D [system touch {m}.default]
        [a/b]
        T #{{shell touch {m}.target}}
        [a/%]
        P #{{system touch {m}.template}}
        [c/d]
        O [system touch {m}.other]
        S #{{shell touch {m}.other2}}
        [scriptinc {m}.nope]
        [c/%]
        Q #{{shell touch {m}.othertemplate}}
        """))
    got = read_runconfig(path, "a/b", toppath=str(tmp_path), environ={"PATH": os.environ["PATH"]})
    assert sorted(p.name for p in tmp_path.glob("m.*")) == ["m.default", "m.target", "m.template"]
    assert got["P"] == "0"


def test_rget_inside_runconfigs_sees_target_then_default(tmp_path):
    path = write(tmp_path / "runconfigs.config",
                 "[default]\nA da\nB db\n[a/b]\nA ta\nC #{rget A}-#{rget B}\n[default]\nE #{rget A}\n")
    got = read_runconfig(path, "a/b", toppath=str(tmp_path), environ={})
    assert got["C"] == "ta-db" and got["E"] == "ta"


def test_list_targets_concrete_sorted_without_default_or_templates(tmp_path):
    path = write(tmp_path / "runconfigs.config", "[default]\nX 1\n[z/1]\n[a/b]\n[a/%]\nZ 9\n[/q.*/]\n")
    assert list_targets(path, toppath=str(tmp_path), environ={}) == ["a/b", "z/1"]


def test_list_targets_runs_no_target_commands(tmp_path):
    path = write(tmp_path / "runconfigs.config", f"[a/b]\nK #{{shell touch {tmp_path}/ran}}\n")
    assert list_targets(path, toppath=str(tmp_path), environ={"PATH": os.environ["PATH"]}) == ["a/b"]
    assert not (tmp_path / "ran").exists()


# -- §3.5 environment sections (§17.7) -----------------------------------------------------------

def test_env_section_expands_like_echo(tmp_path):
    (tmp_path / "g1.txt").write_text("")
    (tmp_path / "g2.txt").write_text("")
    env = {"PATH": os.environ["PATH"], "HOME": "/home/u"}
    got = eval_env_section([
        ("P", "$HOME/bin"), ("Q", "${HOME}x$MT_UNSET_VAR"), ("R", "$(echo sub) `echo tick`"),
        ("S", "'quoted   text'  a    b"), ("G", f"{tmp_path}/g*.txt"), ("E", ""),
    ], env)
    assert got == {"P": "/home/u/bin", "Q": "/home/ux", "R": "sub tick", "S": "quoted   text a b",
                   "G": f"{tmp_path}/g1.txt {tmp_path}/g2.txt", "E": ""}
    assert env == {"PATH": os.environ["PATH"], "HOME": "/home/u"}


def test_env_section_later_lines_see_earlier_exports_in_one_shell(tmp_path):
    got = eval_env_section([("A", "1"), ("B", "$A-2"), ("C", "$(sh -c 'echo $B')"), ("P1", "$$"), ("P2", "$$")],
                           {"PATH": os.environ["PATH"]})
    assert got["B"] == "1-2" and got["C"] == "1-2"
    assert got["P1"] == got["P2"]


def test_env_section_values_cannot_break_out_of_echo_quoting():
    got = eval_env_section([("A", "x')\"; echo injected; (\"'"), ("B", "ok")], {"PATH": os.environ["PATH"]})
    assert got["B"] == "ok"
    assert "injected" not in got["B"]


def test_env_section_rejects_bad_key_names():
    with pytest.raises(MtError):
        eval_env_section([("A;rm", "x")], {})


def test_env_section_empty_does_not_start_bash(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("bash started")
    monkeypatch.setattr(subprocess, "run", boom)
    assert eval_env_section([], {}) == {}


def test_env_override_end_to_end(tmp_path):
    path = write(tmp_path / "megatest.config", "[env-override]\nP $HOME/bin\nQ $P:x\n")
    cfg = read_config(path, toppath=str(tmp_path), environ={})
    got = eval_env_section(cfg.section("env-override").items(), {"HOME": "/h", "PATH": os.environ["PATH"]})
    assert got == {"P": "/h/bin", "Q": "/h/bin:x"}


# -- run_system and parse_hms --------------------------------------------------------------------

def test_run_system_joins_lines_and_returns_exit_code(tmp_path):
    assert run_system("printf 'a\\nb\\n'; exit 2", {"PATH": os.environ["PATH"]}) == ("a b", 2)
    assert run_system("pwd", {"PATH": os.environ["PATH"]}, cwd=str(tmp_path)) == (str(tmp_path), 0)


@pytest.mark.parametrize("text,seconds", [
    ("1d 2h 3m 4s", 93784), ("300", 300), ("5s", 5), ("2m", 120), ("1h 1h", 7200), (" 10m  ", 600),
])
def test_parse_hms(text, seconds):
    assert parse_hms(text) == seconds


@pytest.mark.parametrize("text", [None, "", "   "])
def test_parse_hms_empty_is_none(text):
    assert parse_hms(text) is None


def test_parse_hms_bad_token_warns_with_location_and_is_ignored():
    warnings = []
    assert parse_hms("1m xyz 2s", where="testconfig:4", warn=warnings.append) == 62
    assert len(warnings) == 1 and warnings[0].startswith("testconfig:4: ") and "xyz" in warnings[0]
    assert parse_hms("forever", warn=warnings.append) is None


# -- fixture files under tests/data/config ---------------------------------------------------------

def test_fixture_area_with_includes_and_templates():
    path = os.path.join(DATA, "area", "megatest.config")
    warnings = []
    cfg = read_config(path, toppath=os.path.join(DATA, "area"), environ={"PATH": os.environ["PATH"]},
                      warn=warnings.append)
    assert isinstance(cfg, Config)
    assert cfg.section("fields") == {"arch": "TEXT", "os": "TEXT"}
    assert cfg.section("setup") == {"max_concurrent_jobs": "10", "linktree": os.path.join(DATA, "area", "lt")}
    assert cfg.get("disks", "disk0") == os.path.join(DATA, "area", "runs")
    assert cfg.get("env-override", "P") == "$HOME/bin"
    assert warnings == []


def test_config_commands_run_in_the_area_top_directory(parse, tmp_path, monkeypatch):
    """As Megatest (it reads configs from the area's top): `mt-run --area` elsewhere sees the same."""
    monkeypatch.chdir("/")
    cfg, _ = parse("[s]\nA #{shell pwd}\nB [system pwd]\n")
    assert cfg.section("s") == {"A": str(tmp_path), "B": str(tmp_path)}


def test_scheme_procedure_failing_at_run_time_is_a_warning_and_an_empty_value(parse, tmp_path):
    """As Megatest: a helper whose evaluation fails warns and goes on (mt-list without a target)."""
    cfg, warnings = parse('[s]\nU #{scheme (string-upcase (getenv "platform"))}\nK v\n')
    assert cfg.section("s") == {"U": "", "K": "v"}
    assert len(warnings) == 1 and warnings[0].startswith(f"{tmp_path}/cfg/main.cfg:2: warning: #{{scheme ...}}: ")
    assert "string-upcase" in warnings[0]
