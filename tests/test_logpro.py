"""logpro, the log checker: rule files applied to logs, the verdict, the report and the data.

Each check runs the installed `logpro` for real (rules file, log on stdin, exit code), the
way an ezstep or `mt-test runstep --logpro` runs it; the last tests go through mt-run.
"""
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import BIN, mt, records, shared_rows

LOGPRO = str(BIN / "logpro")


class Checked:
    def __init__(self, proc, tmp_path, html):
        self.code, self.stderr = proc.returncode, proc.stderr.decode("utf-8", "replace")
        self.raw_stdout = proc.stdout
        self.stdout = proc.stdout.decode("utf-8", "replace")
        base = os.path.splitext(html or "summary")[0]
        self.dat = _read(tmp_path / f"{base}.dat")
        self.html = _read(tmp_path / html) if html else None


def _read(path):
    return path.read_text() if path.exists() else None


def check(tmp_path, rules, log, *args, html="out.html", name="rules.logpro"):
    """Write RULES to tmp_path/NAME, run `logpro NAME HTML ARGS... < LOG` in tmp_path."""
    (tmp_path / name).write_text(textwrap.dedent(rules))
    data = log if isinstance(log, bytes) else textwrap.dedent(log).encode()
    argv = [LOGPRO, name] + ([html] if html else []) + list(args)
    proc = subprocess.run(argv, input=data, cwd=tmp_path, capture_output=True, timeout=60)
    assert "Traceback" not in proc.stderr.decode("utf-8", "replace")
    return Checked(proc, tmp_path, html)


def summary(result, rule_num):
    """The summary line of rule-N in the annotated log."""
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith(f"Expect: rule-{rule_num} ")]
    assert len(lines) == 1, result.stdout
    return lines[0]


BUILD_LOG = """\
    compiling main.c
    compiling util.c
    linking app
    done
    """

# ---------------------------------------------------------------- command line


def test_help_exits_0_with_usage():
    proc = subprocess.run([LOGPRO, "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    assert "Usage:\n  logpro RULES [HTML [WAIVERS]]" in proc.stdout
    assert "SKIP > ABORT > CHECK > FAIL > WARN > WAIVE" in proc.stdout


@pytest.mark.parametrize("argv, message", [
    ([], "expected RULES [HTML [WAIVERS]], got 0 arguments"),
    (["a", "b", "c", "d"], "expected RULES [HTML [WAIVERS]], got 4 arguments"),
    (["--verbose", "a"], "unknown option --verbose"),
])
def test_bad_arguments_give_usage_and_exit_2(argv, message):
    proc = subprocess.run([LOGPRO] + argv, capture_output=True, text=True, input="")
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[0] == f"logpro: error: {message}"
    assert proc.stderr.splitlines()[1].startswith("usage: logpro RULES")


# ---------------------------------------------------------------- one test per rule kind


def test_required_passes_when_found_and_fails_when_missing(tmp_path):
    rules = '(expect:required in "LogFileBody" > 0 "linked" #/^linking/)\n'
    assert check(tmp_path, rules, BUILD_LOG).code == 0
    missing = check(tmp_path, rules, "compiling main.c\n")
    assert missing.code == 1
    assert "FAIL, expected > 0" in summary(missing, 0)
    assert "message required: linked" in missing.dat


def test_error_rule_fails_on_a_match(tmp_path):
    rules = '(expect:error in "LogFileBody" = 0 "no errors" #/ERROR/)\n'
    assert check(tmp_path, rules, BUILD_LOG).code == 0
    bad = check(tmp_path, rules, "compiling\nERROR: disk full\ndone\n")
    assert bad.code == 1
    assert "LOGPRO Error: no errors = 0 in section LogFileBody on line 2" in bad.stdout
    assert "exit-status FAIL" in bad.dat


def test_warning_rule_gives_exit_2(tmp_path):
    rules = '(expect:warning in "LogFileBody" = 0 "no warnings" #/warning:/)\n'
    result = check(tmp_path, rules, "warning: unused variable x\n")
    assert result.code == 2
    assert "exit-status WARN" in result.dat


def test_ignore_rule_before_error_keeps_the_line_from_failing(tmp_path):
    rules = """\
        (expect:ignore in "LogFileBody" >= 0 "error in a file name" #/error\\.[ch]/)
        (expect:error  in "LogFileBody" = 0 "no errors" #/error/)
        """
    log = "compiling error.c\ncompiling error.h\n"
    assert check(tmp_path, rules, log).code == 0
    assert check(tmp_path, rules, log + "error: type mismatch\n").code == 1
    swapped = "\n".join(reversed(textwrap.dedent(rules).splitlines())) + "\n"
    assert check(tmp_path, swapped, log).code == 1      # order matters: first rule wins


def test_ignore_rule_count_miss_does_not_change_the_verdict(tmp_path):
    rules = '(expect:ignore in "LogFileBody" = 3 "three notes" #/note:/)\n'
    result = check(tmp_path, rules, "note: one\n")
    assert result.code == 0
    assert "FAIL, expected = 3" in summary(result, 0)


def test_waive_rule_turns_a_fail_into_exit_4(tmp_path):
    rules = """\
        (expect:waive in "LogFileBody" = 0 "known flaky link step" #/ERROR: link timeout/)
        (expect:error in "LogFileBody" = 0 "no errors" #/ERROR/)
        """
    result = check(tmp_path, rules, "ERROR: link timeout\n")
    assert result.code == 4
    assert "exit-status WAIVE" in result.dat
    assert check(tmp_path, rules, "ERROR: link timeout\nERROR: real\n").code == 1


def test_value_rule_within_tolerance_passes_and_writes_the_measure(tmp_path):
    rules = '(expect:value in "LogFileBody" 1.9 0.1 "output voltage" #/voltage:\\s*([\\d.]+)V/)\n'
    good = check(tmp_path, rules, "voltage: 1.95V\n")
    assert good.code == 0
    assert "status OK\nexpected 1.9\nmeasured 1.95\ntype +/-\ntolerance 0.1\npass 1\nfail 0" \
        in good.dat
    bad = check(tmp_path, rules, "voltage: 2.05V\n")
    assert bad.code == 1
    assert "measured 2.05" in bad.dat and "status FAIL" in bad.dat
    assert check(tmp_path, rules, "no measurement\n").code == 1     # never measured: FAIL


def test_value_rule_with_comparator_and_matchnum(tmp_path):
    rules = ('(expect:value in "LogFileBody" 100 < "latency ms" '
             '#/run (\\d+): latency (\\d+)/ matchnum: 2)\n')
    assert check(tmp_path, rules, "run 500: latency 80\n").code == 0
    result = check(tmp_path, rules, "run 5: latency 120\n")
    assert result.code == 1
    assert "measured 120\ntype <\npass 0\nfail 1" in result.dat


def test_value_rule_with_text_instead_of_a_number_fails(tmp_path):
    rules = '(expect:value in "LogFileBody" 10 2 "speed" #/speed: (\\S+)/)\n'
    result = check(tmp_path, rules, "speed: fast\n")
    assert result.code == 1 and "measured fast" in result.dat


@pytest.mark.parametrize("kind, code", [
    ("check", 3), ("abort", 5), ("skip", 6), ("note", 0), ("warn", 2), ("waiver", 4)])
def test_other_rule_kinds_give_their_exit_code(tmp_path, kind, code):
    rules = f'(expect:{kind} in "LogFileBody" = 0 "flag" #/FLAG/)\n'
    assert check(tmp_path, rules, "FLAG raised\n").code == code
    assert check(tmp_path, rules, "all quiet\n").code == 0


def test_required_warn_warns_instead_of_failing(tmp_path):
    rules = '(expect:required-warn in "LogFileBody" > 0 "banner" #/Welcome/)\n'
    assert check(tmp_path, rules, "no banner\n").code == 2


# ---------------------------------------------------------------- comparisons


@pytest.mark.parametrize("op, n, code", [
    ("=", 2, 0), ("=", 1, 1), ("<", 3, 0), ("<", 2, 1), (">", 1, 0), (">", 2, 1),
    ("<=", 2, 0), ("<=", 1, 1), (">=", 2, 0), (">=", 3, 1)])
def test_count_comparisons(tmp_path, op, n, code):
    rules = f'(expect:required in "LogFileBody" {op} {n} "two compiles" #/compiling/)\n'
    assert check(tmp_path, rules, BUILD_LOG).code == code


def test_several_regexes_count_each_line_once(tmp_path):
    rules = """\
        (expect:required in "LogFileBody" = 3 "steps" (list #/compiling/ #/linking/) #/main/)
        """
    result = check(tmp_path, rules, BUILD_LOG)
    assert result.code == 0, summary(result, 0)


@pytest.mark.parametrize("regex, code", [
    ("#/error/i", 1), ("#/error/", 0), ("#/ e r r o r /xi", 1), ("#/[[:digit:]]{3}/", 1),
    ('(regexp "ERROR")', 1), ('(regexp "error" #t)', 1)])
def test_regex_flags_and_syntax(tmp_path, regex, code):
    rules = f'(expect:error in "LogFileBody" = 0 "errors" {regex})\n'
    assert check(tmp_path, rules, "ERROR code 404\n").code == code


# ---------------------------------------------------------------- sections and triggers

SECTIONS = """\
    (trigger "TestsStart" #/^== tests/)
    (trigger "TestsEnd"   #/^== end tests/)
    (section "Tests" "TestsStart" "TestsEnd")
    (expect:error    in "Tests" = 0 "no failures" #/^FAIL /)
    (expect:required in "Tests" = 2 "two passes" #/^PASS /)
    """


def test_rules_in_a_section_count_only_between_its_triggers(tmp_path):
    log = "FAIL old result\n== tests\nPASS a\nPASS b\n== end tests\nFAIL after\n"
    result = check(tmp_path, SECTIONS, log)
    assert result.code == 0, result.stdout
    assert "LOGPRO: hit trigger TestsStart on line 2" in result.stdout
    assert check(tmp_path, SECTIONS, log.replace("PASS b", "FAIL b")).code == 1


def test_a_trigger_fires_once_unless_given_a_limit(tmp_path):
    log = "== tests\nPASS a\n== end tests\n== tests\nPASS b\n== end tests\n"
    once = check(tmp_path, SECTIONS, log)
    assert once.code == 1 and "got 1" in summary(once, 1)
    limited = SECTIONS.replace('(trigger "TestsStart"', '(trigger-with-limit "TestsStart" 5') \
                      .replace('(trigger "TestsEnd"', '(trigger-with-limit "TestsEnd" 5')
    assert check(tmp_path, limited, log).code == 0


def test_not_in_applies_outside_the_section(tmp_path):
    rules = """\
        (trigger "Setup" #/^setup begin/)
        (trigger "SetupEnd" #/^setup end/)
        (section "Setup" "Setup" "SetupEnd")
        (expect:error not-in "Setup" = 0 "errors only allowed during setup" #/error/)
        """
    assert check(tmp_path, rules, "setup begin\nerror: retry\nsetup end\nok\n").code == 0
    assert check(tmp_path, rules, "setup begin\nsetup end\nerror: late\n").code == 1


def test_a_missing_required_trigger_is_reported_but_does_not_fail(tmp_path):
    result = check(tmp_path, '(trigger "Banner" #/^Welcome/)\n', "hello\n")
    assert result.code == 0
    assert "Trigger: Banner FAIL, count=0" in result.stdout


# ---------------------------------------------------------------- exit code precedence


@pytest.mark.parametrize("kinds, code", [
    (("skip", "abort"), 6), (("abort", "check"), 5), (("check", "error"), 3),
    (("error", "warning"), 1), (("warning", "waive"), 2), (("waive",), 4)])
def test_exit_code_precedence(tmp_path, kinds, code):
    rules = "".join(f'(expect:{k} in "LogFileBody" = 0 "{k} seen" #/{k.upper()}/)\n'
                    for k in reversed(kinds))
    log = "".join(f"{k.upper()}\n" for k in kinds)
    result = check(tmp_path, rules, log)
    assert result.code == code
    assert f"message {kinds[0]}: {kinds[0]} seen" in result.dat


# ---------------------------------------------------------------- malformed rule files


@pytest.mark.parametrize("rules, message", [
    ('(expect:error in "LogFileBody" = 0 "x" #/a/)\n\n(expect:error in "LogFileBody" = 0 "y"\n',
     "rules.logpro:3: missing ')': the '(' at line 3, column 1 is never closed"),
    ('(expect:error in "LogFileBody" = 0 "x" #/a/))\n', "rules.logpro:1: unexpected ')'"),
    (';; header\n(define-section "Tests" #/start/ #/end/)\n',
     "rules.logpro:2: unknown form (define-section ...) -- logpro has no define-section"),
    ('(expect:eror in "LogFileBody" = 0 "x" #/a/)\n', "rules.logpro:1: unknown form (expect:eror"),
    ('\n(expect:error in "LogFileBody" == 0 "x" #/a/)\n', "rules.logpro:2: unbound variable '=='"),
    ('(expect:error in "LogFileBody" = "none" "x" #/a/)\n',
     'rules.logpro:1: expect:error: count must be a number, got "none"'),
    ('(expect:error in "LogFileBody" = 0 "x" #/(unclosed/)\n',
     "rules.logpro:1: bad regex /(unclosed/: missing ), unterminated subpattern"),
    ('(expect:error in "LogFileBody" = 0 "x" #/a/q)\n', "rules.logpro:1: unknown regex flag 'q'"),
    ('\n\n(expect:error in "LogFileBody" = 0 "unterminated #/a/)\n',
     "rules.logpro:3: unterminated string\n"),
    ('(expect:error in "LogFileBody" = 0 "x")\n',
     "rules.logpro:1: expect:error: needs 6 arguments"),
    ('(expect:error inside "LogFileBody" = 0 "x" #/a/)\n',
     "rules.logpro:1: unbound variable 'inside'"),
    ('(expect:error in "LogFileBody" = 0 "x"\n   (list #/a/ bogus))\n',
     "rules.logpro:2: unbound variable 'bogus'"),
    ('(expect:error in "LogFileBody" = 0 "x"\n   (regexp "(bad"))\n',
     "rules.logpro:2: bad regex /(bad/: missing ), unterminated subpattern"),
    ('(load "rules.logpro")\n', "rules.logpro:1: load cycle: rules.logpro is already being loaded"),
    ("(define (down n) (+ 1 (down n)))\n(down 1)\n",
     "rules.logpro:1: evaluation nested deeper than 200 levels"),
    ('(system "rm -rf /")\n', "rules.logpro:1: unknown form (system ...)"),
])
def test_malformed_rules_name_file_and_line_and_abort(tmp_path, rules, message):
    result = check(tmp_path, rules, "ERROR\n")
    assert result.code == 5
    assert result.stderr.startswith(f"logpro: error: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_missing_rules_file_aborts(tmp_path):
    proc = subprocess.run([LOGPRO, "nope.logpro", "out.html"], cwd=tmp_path, input=b"x\n",
                          capture_output=True)
    assert proc.returncode == 5
    assert proc.stderr == b"logpro: error: nope.logpro: cannot read rules file: " \
                          b"No such file or directory\n"


def test_unwritable_report_aborts_before_reading_the_log(tmp_path):
    (tmp_path / "r.logpro").write_text('(expect:error in "LogFileBody" = 0 "x" #/E/)\n')
    proc = subprocess.run([LOGPRO, "r.logpro", "no/such/dir/out.html"], cwd=tmp_path,
                          input=b"E\n", capture_output=True)
    assert proc.returncode == 5
    assert proc.stderr == b"logpro: error: cannot write no/such/dir/out.html: " \
                          b"No such file or directory\n"


def test_unknown_keywords_are_warned_about_and_ignored(tmp_path):
    rules = '(expect:value in "LogFileBody" 5 1 "v" #/a=(\\d+) b=(\\d+)/ match: 2)\n'
    result = check(tmp_path, rules, "a=5 b=9\n")
    assert result.code == 0          # like logpro: match: is not matchnum:, group 1 is used
    assert "rules.logpro:1: expect:value: unknown keyword match: ignored -- did you mean " \
           "matchnum:?" in result.stderr


# ---------------------------------------------------------------- the language real files use


def test_defines_loops_and_generated_regexes(tmp_path):
    rules = """\
        (define body "LogFileBody")
        (define suites '(("unit" 3) ("integration" 1)))
        (define (suite-ran name runs)
          (let* ((rx  (regexp (conc "^suite " name " finished")))
                 (msg (conc name " ran " runs " times")))
            (expect:required in body = runs msg rx)))
        (for-each (lambda (s) (apply suite-ran s)) suites)
        (for-each (lambda (word) (expect:error in logfile = 0 word (regexp word)))
                  (string-split "Segfault Traceback"))
        """
    log = "suite unit finished\n" * 3 + "suite integration finished\n"
    assert check(tmp_path, rules, log).code == 0
    assert check(tmp_path, rules, log + "Traceback (most recent call last)\n").code == 1
    assert check(tmp_path, rules, log * 2).code == 1


def test_rule_files_have_the_whole_scheme_subset(tmp_path, monkeypatch):
    # The old rule-file evaluator had no if, cond, when or named let; megatest.scheme has them.
    rules = """\
        (define strict (equal? (getenv "STRICTNESS") "high"))
        (define (kind-of word) (cond ((string-prefix? "E" word) 'error) (else 'warning)))
        (let loop ((words '("E100" "W200" "E300")))
          (when (pair? words)
            (if (eq? (kind-of (car words)) 'error)
                (expect:error in "LogFileBody" = 0 (car words) (regexp (car words)))
                (expect:warning in "LogFileBody" = 0 (car words) (regexp (car words))
                                type: (if strict 'error 'warning)))
            (loop (cdr words))))
        """
    assert check(tmp_path, rules, "W200 seen\n").code == 2
    assert check(tmp_path, rules, "E300 seen\n").code == 1
    monkeypatch.setenv("STRICTNESS", "high")
    assert check(tmp_path, rules, "W200 seen\n").code == 1


@pytest.mark.parametrize("form, name", [
    ('(system "touch pwned")', "system"),
    ('(create-directory "pwned" #t)', "create-directory"),
    ('(with-output-to-file "pwned" (lambda () (display 1)))', "with-output-to-file"),
    ('(open-input-file "/etc/passwd")', "open-input-file"),
    ('(file-exists? "/etc/passwd")', "file-exists?"),
    ('(setenv "PATH" "/pwned")', "setenv"),
    ("(eval '(system \"touch pwned\"))", "eval"),
    ('(args:get-arg "-target")', "args:get-arg"),
])
def test_rule_files_cannot_run_commands_or_touch_files(tmp_path, form, name):
    result = check(tmp_path, f'(expect:error in "LogFileBody" = 0 "e" #/E/)\n{form}\n', "E\n")
    assert result.code == 5
    assert result.stderr == f"logpro: error: rules.logpro:2: unknown form ({name} ...)\n"
    assert sorted(os.listdir(tmp_path)) == ["rules.logpro"]


def test_an_error_in_a_loaded_procedure_names_the_file_it_was_written_in(tmp_path):
    (tmp_path / "lib.logpro").write_text(
        '(define (no-errors word)\n'
        '  (expect:error in "LogFileBody" = 0 word\n'
        '                (regexp (conc word "("))))\n')
    rules = '(load "lib.logpro")\n(no-errors "ok")\n'
    result = check(tmp_path, rules, "x\n")
    assert result.code == 5
    assert result.stderr.startswith("logpro: error: lib.logpro:3: bad regex /ok(/")


def test_chicken_only_forms_are_ignored_with_a_warning(tmp_path):
    rules = '(use regex posix)\n(expect:error in "LogFileBody" = 0 "e" #/E/)\n(trace expect:error)\n'
    result = check(tmp_path, rules, "fine\n")
    assert result.code == 0
    assert result.stderr == ("logpro: warning: rules.logpro:1: (use ...) is CHICKEN-specific; ignored\n"
                             "logpro: warning: rules.logpro:3: (trace ...) is CHICKEN-specific; ignored\n")


def test_load_reads_a_file_beside_the_rules(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "common.logpro").write_text(
        '(expect:error in "LogFileBody" = 0 "no errors" #/error/i)\n')
    rules = '(expect:ignore in "LogFileBody" >= 0 "expected" #/error: expected/)\n' \
            '(load "common.logpro")\n'
    assert check(tmp_path, rules, "error: expected\n", name="sub/rules.logpro").code == 0
    assert check(tmp_path, rules, "Error: boom\n", name="sub/rules.logpro").code == 1


def test_waiver_file_rules_come_first(tmp_path):
    (tmp_path / "waivers.logpro").write_text(
        '(expect:waive in "LogFileBody" = 0 "ticket 42" #/ERROR: flaky/)\n')
    rules = '(expect:error in "LogFileBody" = 0 "no errors" #/ERROR/)\n'
    assert check(tmp_path, rules, "ERROR: flaky\n").code == 1
    assert check(tmp_path, rules, "ERROR: flaky\n", "waivers.logpro").code == 4


def test_expired_rules_are_dropped(tmp_path):
    rules = """\
        (expect:ignore in "LogFileBody" >= 0 "old waiver" #/ERROR: x/ expires: "01/01/2001")
        (expect:ignore in "LogFileBody" >= 0 "new waiver" #/ERROR: y/ expires: "12/31/2999")
        (expect:error  in "LogFileBody" = 0 "no errors" #/ERROR/)
        """
    assert check(tmp_path, rules, "ERROR: y\n").code == 0
    result = check(tmp_path, rules, "ERROR: x\n")
    assert result.code == 1 and "old waiver" in result.stdout.splitlines()[0]


def test_hooks_run_with_the_match_substituted(tmp_path):
    rules = """\
        (hook:add "note" "echo #{escaped m1} >> hook.out" one-time: #t)
        (expect:error in "LogFileBody" = 0 "crash" #/crashed in (\\S+)/ hook: "note")
        """
    check(tmp_path, rules, "crashed in it's_main\ncrashed in again\n")
    assert (tmp_path / "hook.out").read_text() == "it's_main\n"


# ---------------------------------------------------------------- outputs


def test_annotated_log_keeps_every_line_and_bytes(tmp_path):
    log = b"start\n\xff\xfe binary \x00 ERROR\r\nend without newline"
    result = check(tmp_path, '(expect:error in "LogFileBody" = 0 "e" #/ERROR/)\n', log)
    assert result.code == 1
    body = result.raw_stdout.split(b"\n==========================LOGPRO SUMMARY")[0]
    lines = [ln for ln in body.split(b"\n") if not ln.startswith(b"LOGPRO")]
    assert lines == [b"start", b"\xff\xfe binary \x00 ERROR", b"end without newline"]
    assert "\ufffd\ufffd binary" in result.html


def test_html_report_lists_hits_with_line_numbers_and_is_self_contained(tmp_path):
    rules = '(expect:error in "LogFileBody" = 0 "no <errors>" #/ERROR/)\n'
    result = check(tmp_path, rules, "ok\nERROR one\nok\nERROR <two>\n", html="report.html")
    page = result.html
    assert '<h1 class="FAIL">EXIT CODE: 1 (FAIL)</h1>' in page
    assert '<a href="#L2">     2</a>: ERROR one' in page
    assert '<a href="#L4">     4</a>: ERROR &lt;two&gt;' in page
    assert '<span id="L4" class="k-error"' in page
    assert "no &lt;errors&gt;" in page and "<errors>" not in page
    assert not any(s in page for s in ("http:", "https:", "<script", "<link", "src="))
    assert result.dat is not None and (tmp_path / "report.dat").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".logpro-")]


def test_without_html_the_data_go_to_summary_dat(tmp_path):
    result = check(tmp_path, '(expect:error in "LogFileBody" = 0 "e" #/E/)\n', "x\n", html=None)
    assert result.code == 0 and "exit-status PASS" in result.dat


def test_dat_loads_through_the_checker_data_reader(tmp_path):
    sys.path.insert(0, str(BIN.parent.parent / "lib"))
    from megatest.testside.checkerdata import dat_rows
    from megatest.testside.testdata import normalize_row
    rules = """\
        (expect:value in "LogFileBody" 1.9 0.1 "voltage #{shell touch pwned}" #/V=([\\d.]+)/)
        (expect:value in "LogFileBody" 3 < "jitter" #/jitter=(.+)$/)
        (expect:error in "LogFileBody" = 0 "no errors" #/ERROR/)
        """
    result = check(tmp_path, rules, "V=1.95\njitter=[system touch pwned]\nERROR x\\\n",
                   html="step.html")
    assert result.code == 1
    rows = {r["variable"]: normalize_row(r) for r in dat_rows(str(tmp_path / "step.dat"), "step")}
    assert set(rows) == {"rule-0", "rule-1", "final"}
    v = rows["rule-0"]
    assert (v["category"], v["value"], v["expected"], v["tol"], v["status"], v["comment"]) == \
        ("step", "1.95", "1.9", "0.1", "OK", "voltage #{shell touch pwned}")
    assert (rows["rule-1"]["value"], rows["rule-1"]["status"]) == ("[system touch pwned]", "FAIL")
    final = rows["final"]
    assert (final["value"], final["status"], final["comment"], final["type"]) == \
        ("1", "FAIL", "value: jitter", "logpro")
    assert not (tmp_path / "pwned").exists()


def test_big_log_is_streamed_with_exact_counts(tmp_path):
    lines = 200_000
    log = b"".join(b"line %d ERROR\n" % i if i % 4 == 0 else b"line %d ok\n" % i
                   for i in range(lines))
    result = check(tmp_path, '(expect:error in "LogFileBody" = 0 "e" #/ERROR/)\n', log)
    assert result.code == 1
    assert f"got {lines // 4}," in summary(result, 0)
    assert f"... and {lines // 4 - 50} more" in result.html


def test_closed_stdout_still_gives_the_verdict(tmp_path):
    (tmp_path / "r.logpro").write_text('(expect:error in "LogFileBody" = 0 "e" #/ERROR/)\n')
    script = f"yes 'ERROR spam' | head -50000 | {LOGPRO} r.logpro o.html | head -1 >/dev/null;" \
             " echo ${PIPESTATUS[2]}"
    proc = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert proc.stdout.strip() == "1" and "Traceback" not in proc.stderr
    assert "exit-status FAIL" in (tmp_path / "o.dat").read_text()


# ---------------------------------------------------------------- through the runner


def test_runner_uses_logpro_for_ezsteps_testconfig_rules_and_runstep(make_area, mt_env):
    area = make_area({
        "warned": "[ezsteps]\nbuild echo compiling; echo 'warning: old API'\nnext echo done\n",
        "failed": "[ezsteps]\ncheck echo 'ERROR: checksum mismatch'\nnever echo hi\n"
                  "[logpro]\ncheck (expect:error in \"LogFileBody\" = 0 \"no errors\" #/ERROR/)\n",
        "measured": "[setup]\nrunscript measure.sh\n",
    })
    tests = area / "tests"
    (tests / "warned" / "build.logpro").write_text(
        '(expect:required in "LogFileBody" > 0 "compiled" #/compiling/)\n'
        '(expect:warning  in "LogFileBody" = 0 "no warnings" #/warning/)\n')
    (tests / "measured" / "speed.logpro").write_text(
        '(expect:value in "LogFileBody" 100 10 "throughput" #/rate: (\\d+) MB\\/s/)\n')
    script = tests / "measured" / "measure.sh"
    script.write_text("#!/bin/sh\n"
                      "mt-test runstep speed --logpro speed.logpro -- echo 'rate: 104 MB/s'\n")
    script.chmod(0o755)
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    recs = records(area, mt_env)
    assert (recs["warned"]["state"], recs["warned"]["status"]) == ("COMPLETED", "WARN"), out.stderr
    assert (recs["failed"]["state"], recs["failed"]["status"]) == ("COMPLETED", "FAIL")
    assert (recs["measured"]["state"], recs["measured"]["status"]) == ("COMPLETED", "PASS")
    steps = set(shared_rows(area, "SELECT t.testname, s.stepname, s.status, s.logfile FROM test_steps s "
                          "JOIN tests t ON t.id = s.test_id WHERE s.state = 'end'"))
    assert steps == {("warned", "build", "2", "build.html"), ("warned", "next", "0", "next.log"),
                     ("failed", "check", "1", "check.html"),
                     ("measured", "speed", "0", "speed.html")}
    data = shared_rows(area, "SELECT variable, value, status FROM test_data WHERE category = 'speed'")
    assert sorted(data) == [("final", "0", "PASS"), ("rule-0", "104", "OK")]
    assert (area / "disk0/a/b/r/failed/check.html").exists()
