"""The #{scheme} evaluator: reader, special forms, procedures, result text, limits, real uses."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from megatest.config.scheme import (HOST, LANGUAGE, UNSPECIFIED, SchemeContext, SchemeError, Session,
                             UnknownProcedure, evaluate, registrar, to_text)

TOOL = Path(__file__).resolve().parent.parent / "tools" / "check-scheme-uses"


def ctx(environ=None, args=None, **fields):
    return SchemeContext(environ={} if environ is None else environ, args={} if args is None else args,
                         **fields)


def run(text, **fields):
    return evaluate(text, ctx(**fields))


def fails(text, **fields):
    with pytest.raises(SchemeError) as err:
        run(text, **fields)
    return str(err.value)


# --- reader and literals -------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("42", "42"), ("-17", "-17"), ("+5", "5"), ("2.5", "2.5"), (".5", "0.5"), ("1e3", "1000.0"),
    ("3.", "3.0"), ('"plain"', "plain"), (r'"tab\there"', "tab\there"), (r'"a\"b\\c"', 'a"b\\c'),
    (r'"\x41;BC"', "ABC"), ("#t", "#t"), ("#f", "#f"), ("#true", "#t"), (r"#\a", "a"),
    (r"#\space", " "), ("'sym", "sym"), ("'(a b . c)", "(a b . c)"), ("'()", "()"),
    ("''x", "(quote x)"), ("'(1 (2 (3)) \"s\")", "(1 (2 (3)) s)"), ("'[a b]", "(a b)"),
    ("; a comment\n7", "7"), ("#| block #| nested |# |# 8", "8"), ("#;(ignored) 9", "9"),
    ("'1/2", "1/2"),
])
def test_literals_read_and_display(text, shown):
    assert run(text) == shown


def test_string_continues_over_backslash_newline():
    assert run('"one \\\n     two"') == "one two"


def test_every_form_is_evaluated_and_the_last_one_is_the_result():
    assert run("(define x 2) (define y 3) (* x y)") == "6"


@pytest.mark.parametrize("text, message", [
    ("(+ 1 (* 2 3)", "missing ')': the '(' at line 1, column 1 is never closed"),
    ("(+ 1 2))", "unexpected ')' with no list open at line 1, column 8"),
    ("(list 1\n  (car '(1 2)]", "']' does not match the '(' at line 2, column 3 at line 2, column 14"),
    ('(conc "abc)', "unterminated string at line 1, column 7"),
    (r'"bad \q escape"', "unknown escape '\\q' in string at line 1, column 6"),
    ("#(1 2)", "vectors (#(...)) are not supported at line 1, column 1"),
    ("(. a)", "misplaced '.' at line 1, column 2"),
    ("'(a . b c)", "more than one datum after '.' at line 1, column 9"),
    ("(quote", "missing ')': the '(' at line 1, column 1 is never closed"),
    ("'", "nothing follows \"'\" at line 1, column 1"),
    ("#!optional", "unsupported syntax '#!optional' at line 1, column 1"),
    ("#| open", "unterminated '#|' comment at line 1, column 1"),
    (r"#\bogus", "unknown character name '#\\bogus' at line 1, column 1"),
    ("", "no expression to evaluate"),
    ("   ; only a comment", "no expression to evaluate"),
])
def test_malformed_text_says_what_and_where(text, message):
    assert fails(text) == message


def test_source_nested_too_deep_is_refused_while_reading():
    assert fails("(list " * 70 + ")" * 70).startswith("expression nested deeper than 64 levels at line 1")


# --- special forms -------------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("(if #f 1 2)", "2"), ("(if '() 'empty-is-true 'no)", "empty-is-true"), ("(if 0 'yes 'no)", "yes"),
    ("(if #f #f)", "#<unspecified>"),
    ("(cond ((= 1 2) 'a) ((= 1 1) 'b) (else 'c))", "b"),
    ("(cond ((= 1 2) 'a) (else 'c))", "c"),
    ("(cond ((= 1 2) 'a))", "#<unspecified>"),
    ("(cond ((assoc \"k\" '((\"k\" . 5))) => cdr) (else 0))", "5"),
    ("(cond ((member 3 '(1 2)) => car) ((+ 1 1)))", "2"),
    ("(case (* 2 3) ((2 3 5 7) 'prime) ((1 4 6 8 9) 'composite))", "composite"),
    ("(case 'x ((a) 1) (else 'other))", "other"),
    ("(case \"str\" ((\"str\") 'never) (else 'eqv-does-not-match-strings))", "eqv-does-not-match-strings"),
    ("(case 10 ((1) 'one))", "#<unspecified>"),
    ("(when (> 2 1) 'a 'b)", "b"), ("(when #f 'a)", "#<unspecified>"), ("(unless #f 'u)", "u"),
    ("(let ((a 1) (b 2)) (+ a b))", "3"), ("(let () 5)", "5"),
    ("(let ((x 1)) (let ((x 2) (y x)) y))", "1"),
    ("(let* ((x 1) (y (+ x 1))) (* x y))", "2"),
    ("(letrec ((ev? (lambda (n) (if (= n 0) #t (od? (- n 1))))) (od? (lambda (n) (if (= n 0) #f (ev? (- n 1))))))"
     " (ev? 10))", "#t"),
    ("(let loop ((i 0) (acc '())) (if (= i 3) (reverse acc) (loop (+ i 1) (cons i acc))))", "(0 1 2)"),
    ("((lambda (a b) (- a b)) 5 3)", "2"), ("((lambda (a . more) more) 1 2 3)", "(2 3)"),
    ("((lambda all all) 1 2)", "(1 2)"),
    ("(define (sq x) (* x x)) (sq 9)", "81"), ("(define (f . xs) (length xs)) (f 1 2 3)", "3"),
    ("(define v)", "#<unspecified>"),
    ("(define (outer) (define inner 4) (* inner 2)) (outer)", "8"),
    ("(begin 1 2 3)", "3"), ("(begin)", "#<unspecified>"),
    ("(and 1 2 'last)", "last"), ("(and 1 #f 3)", "#f"), ("(and)", "#t"),
    ("(or #f 'first-true 3)", "first-true"), ("(or #f #f)", "#f"), ("(or)", "#f"),
    ("(not 3)", "#f"), ("(not #f)", "#t"),
    ("(let ((n 1)) (set! n (+ n 10)) n)", "11"),
    ("(define (counter) (define n 0) (lambda () (set! n (+ n 1)) n)) (define c (counter)) (c) (c)", "2"),
])
def test_special_forms(text, shown):
    assert run(text) == shown


def test_define_stays_inside_one_evaluation():
    context = ctx()
    assert evaluate("(define car cdr) (car '(1 2))", context) == "(2)"
    assert evaluate("(car '(1 2))", context) == "1"
    assert evaluate("(set! + -) (+ 5 3)", context) == "2"
    assert evaluate("(+ 5 3)", context) == "8"


@pytest.mark.parametrize("text, message", [
    ("(if 1)", "bad 'if' form: expected (if TEST THEN [ELSE]): (if 1)"),
    ("(let ((x)) x)", "bad 'let' form: each binding must be (NAME VALUE), not (x): (let ((x)) x)"),
    ("(let ((x 1) (x 2)) x)", "bad 'let' form: a name is bound twice: (let ((x 1) (x 2)) x)"),
    ("(lambda (1) 1)", "bad 'lambda' form: parameters must be symbols: (lambda (1) 1)"),
    ("(lambda (a a) a)", "bad 'lambda' form: a parameter is named twice: (lambda (a a) a)"),
    ("(lambda (x))", "bad 'lambda' form: expected (lambda PARAMS BODY ...): (lambda (x))"),
    ("(define)", "bad 'define' form: expected (define NAME VALUE) or (define (NAME PARAMS ...) BODY ...): (define)"),
    ("(cond (else 1) (#t 2))",
     "bad 'cond' form: 'else' must be the last clause and have a body: (cond (else 1) (#t 2))"),
    ("(case 1 (else 1) ((1) 2))", "bad 'case' form: 'else' must be the last clause: (case 1 (else 1) ((1) 2))"),
    ("(quote a b)", "bad 'quote' form: expected exactly one datum: (quote a b)"),
    ("(set! 5 1)", "bad 'set!' form: expected (set! NAME VALUE): (set! 5 1)"),
    ("()", "empty combination () is not an expression; quote it: '()"),
    ("(+ 1 . 2)", "malformed expression (a dotted list): (+ 1 . 2)"),
    ("(set! undefined-here 1)", "unbound variable 'undefined-here' (set! needs a defined variable)"),
    ("(do ((i 0 (+ i 1))) ((= i 3)))", "unsupported form 'do'"),
    ("`(a ,b)", "unsupported form 'quasiquote'"),
    ("(define-syntax m (syntax-rules () ((_) 1)))", "unsupported form 'define-syntax'"),
])
def test_bad_forms_are_named(text, message):
    assert fails(text) == message


# --- numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("(+ 5 6 7)", "18"), ("(+)", "0"), ("(*)", "1"), ("(- 5)", "-5"), ("(- 10 1 2)", "7"),
    ("(* 2 3.5)", "7.0"), ("(/ 7 2)", "3.5"), ("(/ 6 3)", "2"), ("(/ 2)", "0.5"), ("(/ 1 3)", "0.333333333333333"),
    ("(/ 1 0.0)", "+inf.0"), ("(/ -1 0.0)", "-inf.0"),
    ("(quotient -7 2)", "-3"), ("(remainder -7 2)", "-1"), ("(modulo -7 2)", "1"), ("(modulo 7 -2)", "-1"),
    ("(quotient 7.0 2)", "3.0"), ("(abs -4)", "4"), ("(min 3 1 2)", "1"), ("(min 1 2.0)", "1.0"),
    ("(max 1 5 3)", "5"), ("(= 1 1.0)", "#t"), ("(< 1 2 3)", "#t"), ("(< 1 3 2)", "#f"),
    ("(>= 3 3 1)", "#t"), ("(<= 1 1 0)", "#f"), ("(> 2 1)", "#t"),
    ("(number->string 255)", "255"), ("(number->string 255 16)", "ff"), ("(number->string 2.5)", "2.5"),
    ("(string->number \"12\")", "12"), ("(string->number \"-1e2\")", "-100.0"),
    ("(string->number \"ff\" 16)", "255"), ("(string->number \"abc\")", "#f"),
    ("(string->number \"1_000\")", "#f"), ("(string->number \" 12\")", "#f"),
    ("(any->number \"7\")", "7"), ("(any->number 'x12)", "#f"), ("(any->number '12)", "12"),
    ("(any->number #f)", "#f"), ("(any->number 2.5)", "2.5"),
    ("(* 4611686018427387903 2)", "9.22337203685478e+18"),   # a fixnum overflows into a flonum
    ("(+ 4611686018427387903 0)", "4611686018427387903"),
    ("(expt 2 10)", "1024"), ("(expt 2 100)", "1.26765060022823e+30"), ("(expt 2.0 0.5)", "1.4142135623731"),
    ("(round 2.5)", "2.0"), ("(round 3.5)", "4.0"), ("(floor -1.5)", "-2.0"), ("(ceiling 1.2)", "2.0"),
    ("(truncate -1.7)", "-1.0"), ("(round 7)", "7"), ("(sqrt 16)", "4.0"),
    ("(exact->inexact 1)", "1.0"), ("(inexact->exact 3.0)", "3"), ("(add1 1)", "2"), ("(sub1 1)", "0"),
    ("(zero? 0)", "#t"), ("(positive? -1)", "#f"), ("(negative? -1)", "#t"), ("(odd? 3)", "#t"),
    ("(even? 3)", "#f"), ("(integer? 2.0)", "#t"), ("(integer? 2.5)", "#f"), ("(exact? 2)", "#t"),
    ("(inexact? 2)", "#f"), ("(number? 'a)", "#f"),
    ("1e21", "1e+21"), ("-0.0", "-0.0"), ("1e10", "10000000000.0"), ("0.1", "0.1"),
])
def test_numbers(text, shown):
    assert run(text) == shown


@pytest.mark.parametrize("text, message", [
    ("(/ 1 0)", "error in '/': division by zero"),
    ("(quotient 1 0)", "error in 'quotient': division by zero"),
    ("(+ 1 \"2\")", "error in '+': expected a number, got \"2\""),
    ("(< 1 'a)", "error in '<': expected a number, got a"),
    ("(quotient 1.5 1)", "error in 'quotient': expected an integer, got 1.5"),
    ("(number->string 10 7)", "error in 'number->string': expected a radix of 2, 8, 10 or 16, got 7"),
    ("(inexact->exact 1.5)", "error in 'inexact->exact': expected a number with an exact integer value, got 1.5"),
])
def test_number_errors(text, message):
    assert fails(text) == message


# --- predicates and equality ----------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("(null? '())", "#t"), ("(null? '(1))", "#f"), ("(pair? '(1))", "#t"), ("(pair? '())", "#f"),
    ("(list? '(1 2))", "#t"), ("(list? '(1 . 2))", "#f"), ("(string? \"s\")", "#t"), ("(string? 's)", "#f"),
    ("(symbol? 's)", "#t"), ("(boolean? #f)", "#t"), ("(procedure? car)", "#t"),
    ("(procedure? (lambda () 1))", "#t"), ("(char? #\\a)", "#t"),
    ("(equal? '(1 (2 \"x\")) (list 1 (list 2 \"x\")))", "#t"), ("(equal? '(1 2) '(1 2.0))", "#f"),
    ("(eq? 'a 'a)", "#t"), ("(eqv? 2 2)", "#t"), ("(eqv? 2 2.0)", "#f"), ("(eq? '() '())", "#t"),
    ("(let ((p (list 1))) (eq? p p))", "#t"), ("(eq? (list 1) (list 1))", "#f"),
])
def test_predicates(text, shown):
    assert run(text) == shown


# --- lists -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("(cons 1 2)", "(1 . 2)"), ("(cons 1 '(2))", "(1 2)"), ("(car '(a b))", "a"), ("(cdr '(a b))", "(b)"),
    ("(cadr '(a b c))", "b"), ("(caddr '(a b c))", "c"), ("(cddr '(a b c))", "(c)"), ("(caar '((a) b))", "a"),
    ("(list 1 \"two\" 'three)", "(1 two three)"), ("(length '(1 2 3))", "3"),
    ("(append '(1) '(2 3) '() '(4))", "(1 2 3 4)"), ("(append)", "()"), ("(append '(1) 2)", "(1 . 2)"),
    ("(reverse '(1 2 3))", "(3 2 1)"), ("(list-ref '(a b c) 2)", "c"), ("(list-tail '(a b c) 1)", "(b c)"),
    ("(last '(1 2 3))", "3"), ("(member 2 '(1 2 3))", "(2 3)"), ("(member \"b\" '(\"a\" \"b\"))", "(b)"),
    ("(memq 'z '(a b))", "#f"), ("(memv 2.0 '(1 2.0))", "(2.0)"),
    ("(assoc \"b\" '((\"a\" . 1) (\"b\" . 2)))", "(b . 2)"), ("(assq 'c '((a 1)))", "#f"),
    ("(assv 2 '((1 one) (2 two)))", "(2 two)"),
    ("(map (lambda (x) (* x x)) '(1 2 3))", "(1 4 9)"), ("(map + '(1 2 3) '(10 20))", "(11 22)"),
    ("(map car '((a 1) (b 2)))", "(a b)"),
    ("(let ((total 0)) (for-each (lambda (x) (set! total (+ total x))) '(1 2 3)) total)", "6"),
    ("(for-each (lambda (x) x) '(1))", "#<unspecified>"),
    ("(filter odd? '(1 2 3 4 5))", "(1 3 5)"), ("(remove odd? '(1 2 3))", "(2)"),
    ("(fold + 0 '(1 2 3))", "6"), ("(fold cons '() '(1 2 3))", "(3 2 1)"),
    ("(sort '(3 1 2) <)", "(1 2 3)"), ("(sort '(3 1 2) >)", "(3 2 1)"), ("(sort '() <)", "()"),
    ("(sort '(\"pear\" \"apple\" \"fig\") string<?)", "(apple fig pear)"),
    ("(sort '((b . 1) (a . 2) (c . 1)) (lambda (x y) (< (cdr x) (cdr y))))", "((b . 1) (c . 1) (a . 2))"),
    ("(apply + 1 2 '(3 4))", "10"), ("(apply max '(4 9 2))", "9"),
    ("(delete-duplicates '(a b a c b))", "(a b c)"), ("(delete 2 '(1 2 3 2))", "(1 3)"),
    ("(iota 4)", "(0 1 2 3)"), ("(iota 3 1 2)", "(1 3 5)"), ("(make-list 2 'x)", "(x x)"),
    ("(first '(1 2 3))", "1"), ("(second '(1 2 3))", "2"), ("(third '(1 2 3))", "3"),
])
def test_lists(text, shown):
    assert run(text) == shown


@pytest.mark.parametrize("text, message", [
    ("(car '())", "error in 'car': expected a pair, got ()"),
    ("(cadr '(1))", "error in 'cadr': expected a list fit for cadr, got (1)"),
    ("(length '(1 . 2))", "error in 'length': expected a proper list, got (1 . 2)"),
    ("(list-ref '(1 2) 5)", "error in 'list-ref': index 5 is past the end of the list"),
    ("(map 5 '(1))", "error in 'map': expected a procedure, got 5"),
    ("(sort '(1 a) <)", "error in '<': expected a number, got a"),
    ("(assoc 1 '(2))", "error in 'assoc': expected a list of pairs, got 2"),
])
def test_list_errors(text, message):
    assert fails(text) == message


# --- strings, symbols, characters ----------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("(string-append \"a\" \"b\" \"\" \"c\")", "abc"), ("(string-append)", ""),
    ("(conc \"n=\" 5 \" f=\" 2.5 \" \" #f \" \" 'sym \" \" '(1 \"x\") #\\!)", "n=5 f=2.5 #f sym (1 x)!"),
    ("(conc)", ""), ("(->string 12)", "12"),
    ("(string-intersperse '(\"a\" \"b\" \"c\"))", "a b c"), ("(string-intersperse '(\"a\" \"b\") \",\")", "a,b"),
    ("(string-intersperse '())", ""), ("(string-join '(\"x\" \"y\") \"-\")", "x-y"),
    ("(string-split \"  a b\\tc \")", "(a b c)"), ("(string-split \"a:b::c\" \":\")", "(a b c)"),
    ("(string-split \"a:b::c\" \":\" #t)", "(a b  c)"), ("(length (string-split \"a::\" \":\" #t))", "3"),
    ("(string-length \"hello\")", "5"), ("(substring \"hello\" 1 3)", "el"), ("(substring \"hello\" 2)", "llo"),
    ("(string-ref \"abc\" 1)", "b"), ("(string=? \"a\" \"a\")", "#t"), ("(string<? \"a\" \"b\")", "#t"),
    ("(string>? \"a\" \"b\")", "#f"), ("(string-ci=? \"AbC\" \"aBc\")", "#t"),
    ("(string-upcase \"MiXed\")", "MIXED"), ("(string-downcase \"MiXed\")", "mixed"),
    ("(string-null? \"\")", "#t"), ("(string->symbol \"linux\")", "linux"),
    ("(symbol->string 'abc)", "abc"), ("(eq? (string->symbol \"a\") 'a)", "#t"),
    ("(string-prefix? \"/tmp\" \"/tmp/x\")", "#t"), ("(string-suffix? \".cfg\" \"a.cfg\")", "#t"),
    ("(substring-index \"lo\" \"hello\")", "3"), ("(substring-index \"z\" \"hello\")", "#f"),
    ("(string-contains \"hello\" \"ll\")", "2"),
    ("(string-trim-both \"  x  \")", "x"), ("(string-trim \"  x \")", "x "), ("(string-trim-right \" x  \")", " x"),
    ("(make-string 3 #\\z)", "zzz"), ("(string #\\a #\\b)", "ab"), ("(list->string (list #\\o #\\k))", "ok"),
    ("(string->list \"ab\")", "(a b)"), ("(char->integer #\\A)", "65"), ("(integer->char 97)", "a"),
])
def test_strings(text, shown):
    assert run(text) == shown


@pytest.mark.parametrize("text, message", [
    ("(string-intersperse '(1 2))", "error in 'string-intersperse': expected a list of strings, got 1"),
    ("(string-append \"a\" 1)", "error in 'string-append': expected a string, got 1"),
    ("(substring \"abc\" 2 9)", "error in 'substring': range 2 to 9 is outside a string of length 3"),
    ("(string->symbol 'a)", "error in 'string->symbol': expected a string, got a"),
    ("(symbol->string \"a\")", "error in 'symbol->string': expected a symbol, got \"a\""),
])
def test_string_errors(text, message):
    assert fails(text) == message


# --- the outside world ---------------------------------------------------------------------

def test_environment_is_read_from_and_written_to_the_context():
    environ = {"HOME": "/home/me", "DROP": "x"}
    context = ctx(environ=environ)
    assert evaluate('(getenv "HOME")', context) == "/home/me"
    assert evaluate('(get-environment-variable "NOPE")', context) == "#f"
    assert evaluate('(setenv "NEW" "v") (getenv "NEW")', context) == "v"
    assert evaluate('(unsetenv "DROP")', context) == "#<unspecified>"
    assert environ == {"HOME": "/home/me", "NEW": "v"}


@pytest.mark.parametrize("text, shown", [
    ('(args:get-arg "-target")', "linux/x86"), ('(args:get-arg "-runname")', "#f"),
    ('(args:get-arg "-runname" "dflt")', "dflt"), ("(args:get-arg '-target)", "#f"),
    ("(get-host-name)", "node7"), ("(db:dbfile-path)", "/var/db/area"), ("(db:dbfile-path #f 3)", "/var/db/area"),
    ("*toppath*", "/area/top"),
])
def test_megatest_values_come_from_the_context(text, shown):
    assert run(text, args={"-target": "linux/x86"}, hostname="node7", dbfile_path="/var/db/area",
               toppath="/area/top") == shown


def test_toppath_is_false_when_unknown():
    assert run("*toppath*") == "#f"


def test_create_directory_with_parents_makes_the_tree_and_returns_the_path(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    assert run(f'(create-directory "{target}" #t)') == str(target)
    assert target.is_dir()
    assert run(f'(create-directory "{target}" #t)') == str(target)      # an existing one is fine


def test_create_directory_without_parents_fails_like_mkdir(tmp_path):
    assert fails(f'(create-directory "{tmp_path}")') == \
        f"error in 'create-directory': cannot create directory {tmp_path}: File exists"
    assert run(f'(create-directory "{tmp_path}/one")') == f"{tmp_path}/one"


def test_create_directory_goes_through_the_callers_hook(tmp_path):
    asked = []
    assert run('(create-directory "/no/such/place" #t)', make_directory=asked.append) == "/no/such/place"
    assert asked == ["/no/such/place"] and not os.path.exists("/no/such/place")


def test_file_tests_answer_the_path_or_false(tmp_path):
    (tmp_path / "f").write_text("")
    assert run(f'(file-exists? "{tmp_path}/f")') == f"{tmp_path}/f"
    assert run(f'(file-exists? "{tmp_path}/missing")') == "#f"
    assert run(f'(directory-exists? "{tmp_path}")') == str(tmp_path)
    assert run(f'(directory-exists? "{tmp_path}/f")') == "#f"
    assert run(f'(directory? "{tmp_path}")') == "#t"


@pytest.mark.parametrize("path, shown", [
    ("/a/b/../c/./d", "/a/c/d"), ("/a//b/", "/a/b/"), ("/", "/"), ("rel/x", "/top/rel/x"),
    ("../up", "/up"), ("~/sub", "HOME/sub"),
])
def test_nice_path_normalizes(path, shown, tmp_path):
    home = os.path.realpath(tmp_path)
    assert run(f'(nice-path "{path}")', toppath="/top", environ={"HOME": home}) == shown.replace("HOME", home)


def test_output_procedures_write_nothing(capsys):
    assert run('(print "to the terminal") (display 1) (newline) 5') == "5"
    assert capsys.readouterr() == ("", "")
    assert run('(print "x")') == "#<unspecified>"


def test_env_min_path_merges_path_lists():
    assert run('(env:min-path "/a:/b" "/b:/c:/a")') == "/a:/b:/c"


def test_error_procedure_stops_with_its_message():
    assert fails('(error "bad value" 42)') == "error in 'error': bad value 42"


# --- result to text ------------------------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("#f", "#f"), ("#t", "#t"), ("(+ 1 2)", "3"), ("(* 1.0 18)", "18.0"), ("'linux", "linux"),
    ("'(\"a\" b 1)", "(a b 1)"), ("(list (list 1 2) '())", "((1 2) ())"), ("(if #f #f)", "#<unspecified>"),
    ("car", "#<procedure car>"), ("(define (named x) x) named", "#<procedure named>"),
    ("(lambda (x) x)", "#<procedure lambda>"), ("#\\x", "x"), ("\"\"", ""),
])
def test_result_is_what_conc_would_make_of_it(text, shown):
    assert run(text) == shown


# --- limits and refusals ---------------------------------------------------------------------

@pytest.mark.parametrize("text, name", [
    ('(system "rm -rf /")', "system"), ('(shell "ls")', "shell"), ("(eval '(+ 1 2))", "eval"),
    ('(load "x.scm")', "load"), ('(open-input-file "/etc/passwd")', "open-input-file"),
    ('(with-output-to-file "x" (lambda () 1))', "with-output-to-file"), ("(exit 1)", "exit"),
    ('(__import__ "os")', "__import__"), ("(vector 1 2)", "vector"), ("(hash-table-set! ht 1 2)", "hash-table-set!"),
])
def test_procedures_outside_the_subset_are_refused_by_name(text, name):
    assert fails(text) == f"unsupported procedure '{name}'"


def test_unbound_variable_is_named():
    assert fails("(+ 1 foo)") == "unbound variable 'foo'"
    assert fails("ht") == "unbound variable 'ht'"


def test_calling_a_non_procedure():
    assert fails("(5 3)") == "call of non-procedure: 5"
    assert fails("(\"str\")") == 'call of non-procedure: "str"'


@pytest.mark.parametrize("text, message", [
    ("(car '(1) '(2))", "wrong number of arguments to 'car' (expected 1, got 2)"),
    ("(cons 1)", "wrong number of arguments to 'cons' (expected 2, got 1)"),
    ("(substring \"a\")", "wrong number of arguments to 'substring' (expected 2 to 3, got 1)"),
    ("(-)", "wrong number of arguments to '-' (expected at least 1, got 0)"),
    ("(define (f a b) a) (f 1)", "wrong number of arguments to 'f' (expected 2, got 1)"),
    ("((lambda (a . r) a))", "wrong number of arguments to 'lambda' (expected at least 1, got 0)"),
    ("(let loop ((i 0)) (loop))", "wrong number of arguments to 'loop' (expected 1, got 0)"),
])
def test_wrong_arity_names_the_procedure(text, message):
    assert fails(text) == message


def test_endless_loop_stops_at_the_step_limit():
    assert fails("(let forever ((i 0)) (forever (+ i 1)))") == "evaluation exceeded 200000 steps"
    assert fails("(let forever () (forever))", max_steps=500) == "evaluation exceeded 500 steps"


def test_deep_recursion_stops_at_the_depth_limit():
    text = "(define (down n) (if (= n 0) 0 (+ 1 (down (- n 1))))) (down 100000)"
    assert fails(text) == "evaluation nested deeper than 200 levels"
    assert run("(define (down n) (if (= n 0) 0 (+ 1 (down (- n 1))))) (down 50)") == "50"
    assert fails("(define (down n) (if (= n 0) 0 (+ 1 (down (- n 1))))) (down 50)", max_depth=20) == \
        "evaluation nested deeper than 20 levels"


def test_a_very_large_depth_limit_still_never_recurses_in_python():
    text = "(define (down n) (if (= n 0) 0 (+ 1 (down (- n 1))))) (down 30000)"
    assert run(text, max_depth=10 ** 6) == "30000"


def test_recursion_through_map_counts_towards_depth():
    text = "(define (nest n) (if (= n 0) '() (map nest (list (- n 1))))) (nest 1000)"
    assert fails(text) == "evaluation nested deeper than 200 levels"


def test_tail_calls_use_no_depth():
    assert run("(let count ((i 0)) (if (< i 50000) (count (+ i 1)) i))") == "50000"


@pytest.mark.parametrize("text, message", [
    ("(make-string 1e12)", "error in 'make-string': expected a non-negative exact integer, got 1000000000000.0"),
    ("(make-string 1000000000000)",
     "error in 'make-string': a string of 1000000000000 characters exceeds the limit of 1000000"),
    ("(let grow ((s \"ab\")) (grow (string-append s s)))",
     "error in 'string-append': a string of 1048576 characters exceeds the limit of 1000000"),
    ("(make-list 1000000000 'x)", "evaluation exceeded 200000 steps"),
    ("(iota 1000000000)", "evaluation exceeded 200000 steps"),
    ("(let grow ((l '(1))) (grow (append l l)))", "evaluation exceeded 200000 steps"),
    ("(let grow ((n 2)) (grow (* n n)))", "evaluation exceeded 200000 steps"),
    ("(length (delete-duplicates (iota 20000)))", "evaluation exceeded 200000 steps"),
])
def test_huge_allocations_are_refused_before_they_happen(text, message):
    assert fails(text) == message


def test_integers_never_grow_into_bignums():
    assert run("(let sq ((n 2) (i 0)) (if (= i 20) n (sq (* n n) (+ i 1))))") == "+inf.0"


def test_deeply_nested_data_prints_and_compares_without_recursion():
    build = "(define (deep n) (let loop ((i 0) (x '())) (if (= i n) x (loop (+ i 1) (list x)))))"
    assert run(build + " (string-length (conc (deep 40000)))") == "80002"
    assert run(build + " (equal? (deep 40000) (deep 40000))", max_steps=10 ** 6) == "#t"


def test_a_result_too_long_to_substitute_is_an_error():
    text = "(define s (make-string 600000 #\\a)) (list s s)"
    assert fails(text) == "the result is too long: text longer than 1000000 characters"


# --- the kinds of use found in Megatest's own configs ---------------------------------------

LAUNCHER_BY_DATAPATH = """(case (string->symbol (conc (getenv "datapath")))
    ((none) "run-here")
    ((queue) "submit -o $LOGDIR/job.log")
    (else "fallback"))"""


@pytest.mark.parametrize("environ, shown", [
    ({"datapath": "none"}, "run-here"), ({"datapath": "queue"}, "submit -o $LOGDIR/job.log"),
    ({"datapath": "other"}, "fallback"), ({}, "fallback"),
])
def test_use_case_on_a_symbol_made_from_an_environment_variable(environ, shown):
    assert run(LAUNCHER_BY_DATAPATH, environ=environ) == shown


NUMBERS_UP_TO = ("(string-intersperse (map number->string (sort (let gather ((n 0) (acc '())) "
                 "(if (<= n (or (any->number (get-environment-variable \"COUNT\")) 4)) "
                 "(gather (+ n 1) (cons n acc)) acc)) <)) \" \")")


def test_use_named_let_gathering_numbers_sorted_and_joined():
    assert run(NUMBERS_UP_TO) == "0 1 2 3 4"
    assert run(NUMBERS_UP_TO, environ={"COUNT": "6"}) == "0 1 2 3 4 5 6"
    assert run(NUMBERS_UP_TO, environ={"COUNT": "not-a-number"}) == "0 1 2 3 4"


def test_use_the_same_with_a_prefix_on_every_item_over_joined_continuation_lines():
    text = ("(string-intersperse (map (lambda (n) (conc \"item/\" n))          "
            "      (map number->string (sort (let gather ((n 0) (acc '()))           "
            "   (if (<= n 2500) (gather (+ n 1) (cons n acc)) acc)) <))) \" \")")
    items = run(text).split(" ")
    assert len(items) == 2501 and items[:2] == ["item/0", "item/1"] and items[-1] == "item/2500"


def test_use_target_from_the_command_line():
    assert run('(args:get-arg "-target")', args={"-target": "centos/nfs/queue"}) == "centos/nfs/queue"
    assert run('(args:get-arg "-target")') == "#f"


def test_use_create_directory_of_an_expanded_path(tmp_path):
    wanted = tmp_path / "user" / "suite" / "db"
    assert run(f'(create-directory "{wanted}" #t)') == str(wanted)
    assert wanted.is_dir()


def test_use_create_directory_of_a_nice_path_going_up(tmp_path):
    area = tmp_path / "qa" / "area"
    text = f'(create-directory (nice-path "{area}/../runs") #t)'
    assert run(text) == str(tmp_path / "qa" / "runs")
    assert (tmp_path / "qa" / "runs").is_dir()


@pytest.mark.parametrize("text, fields, shown", [
    ("(+ 5 6 7)", {}, "18"),
    ('(if (getenv "FAST") "http" "fs")', {"environ": {"FAST": "1"}}, "http"),
    ('(if (getenv "FAST") "http" "fs")', {}, "fs"),
    ('(or (getenv "BASE") "/tmp/someone")', {}, "/tmp/someone"),
    ("(get-host-name)", {"hostname": "buildhost"}, "buildhost"),
    ("(db:dbfile-path #f)", {"dbfile_path": "/tmp/me/localdb/area"}, "/tmp/me/localdb/area"),
    ('(unsetenv "FOOBAR")', {"environ": {"FOOBAR": "1"}}, "#<unspecified>"),
])
def test_use_single_calls(text, fields, shown):
    assert run(text, **fields) == shown


# --- tools/check-scheme-uses -----------------------------------------------------------------

def check_tool(*args):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], capture_output=True, text=True)


def test_check_tool_reports_each_use_and_fails_on_any_error(tmp_path):
    (tmp_path / "megatest.config").write_text(
        "[setup]\nbase /tmp/#{getenv NO_SUCH_VAR_HERE}x\n"
        "sum #{scheme (+ 1 \\\n     2)}\n"
        "made #{scheme (create-directory \"#{get setup base}/sub\" #t)}\n")
    (tmp_path / "tests" / "t1").mkdir(parents=True)
    (tmp_path / "tests" / "t1" / "testconfig").write_text("[items]\nX #{scm (system \"ls\")}\n")
    result = check_tool(tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "megatest.config:3: OK: 3"
    assert lines[2] == "megatest.config:5: OK: /tmp/x/sub"
    assert "    would create directory: /tmp/x/sub" in lines
    assert "tests/t1/testconfig:2: FAIL: unsupported procedure 'system'" in lines
    assert lines[-1] == "3 uses, 2 evaluated, 1 failed"
    assert not os.path.exists("/tmp/x/sub")


def test_check_tool_passes_when_every_use_evaluates(tmp_path):
    (tmp_path / "megatest.config").write_text("[s]\nk #{scheme (args:get-arg \"-target\")}\n")
    result = check_tool("--target", "a/b", tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines()[0] == "megatest.config:2: OK: a/b"


def test_check_tool_usage_error(tmp_path):
    result = check_tool(tmp_path / "missing")
    assert result.returncode == 2 and result.stderr.startswith("usage: check-scheme-uses")


# --- the area's tests (fullrun's dynamic_waiton) ---------------------------------------------

def test_tests_get_all_and_filter_by_the_runs_test_pattern():
    tests = {"build": "/a/tests/build", "unit": "/a/tests/unit", "lint": "/a/tests/lint"}
    text = ('(string-intersperse (tests:filter-test-names (hash-table-keys (tests:get-all)) '
            '(or (args:get-arg "-runtests") (args:get-arg "-testpatt") "")) " ")')
    assert run(text, args={"-testpatt": "u%,build/x"}, tests=lambda: tests) == "build unit"
    assert run(text, args={}, tests=lambda: tests) == ""
    assert run("(hash-table-ref/default (tests:get-all) \"lint\" #f)", tests=lambda: tests) == "/a/tests/lint"


def test_tests_get_all_outside_a_run_names_the_procedure():
    assert "tests:get-all" in fails("(tests:get-all)")


# --- keywords and regex literals (what logpro rule files write) ----------------------------

@pytest.mark.parametrize("text, shown", [
    ("(keyword? expires:)", "#t"), ("(keyword? #:expires)", "#t"), ("(eq? expires: #:expires)", "#t"),
    ("(keyword? 'expires)", "#f"), ("(symbol? ':)", "#t"), ("(conc expires:)", "expires"),
    ("(list 'a expires: 1)", "(a expires 1)"),
    ("#/a\\/b[0-9]{3}/ix", "#/a\\/b[0-9]{3}/ix"), ("(procedure? #/x/)", "#f"),
    ("'(#/a/ #/b/i)", "(#/a/ #/b/i)"),
])
def test_keywords_and_regex_literals_are_values(text, shown):
    assert run(text) == shown


@pytest.mark.parametrize("text, message", [
    ("(list #/a/q)", "unknown regex flag 'q' (#/.../ takes i, x, u) at line 1, column 11"),
    ("(list\n #/abc)", "unterminated regex literal #/.../ at line 2, column 2"),
    ("(car expires:)", "error in 'car': expected a pair, got expires:"),
])
def test_keyword_and_regex_errors(text, message):
    assert fails(text) == message


# --- whole texts: a Session, the lines errors come from, procedures a caller adds ---------

def session(procedures=None, forms=None, **fields):
    return Session(ctx(**fields), {**LANGUAGE, **(procedures or {})}, forms)


def located_failure(sess, text, name):
    with pytest.raises(SchemeError) as err:
        sess.run_text(text, name)
    return err.value.source, err.value.line, err.value.message


def test_a_session_keeps_its_definitions_from_text_to_text():
    sess = session()
    assert sess.run_text("(define (twice x) (* 2 x)) (define n 4)", "a.scm") is not None
    assert sess.run_text("(twice n)", "b.scm") == 8
    assert sess.run_text("; nothing but a comment", "c.scm") is None


def test_errors_name_the_source_and_line_they_come_from():
    sess = session()
    sess.run_text('(define (parse s)\n  (string->number\n    (car s)))', "lib.scm")
    assert located_failure(sess, "\n(parse 'oops)", "main.scm") == \
        ("lib.scm", 3, "error in 'car': expected a pair, got oops")
    assert located_failure(sess, "(list 1\n      unbound-here)", "main.scm") == \
        ("main.scm", 2, "unbound variable 'unbound-here'")
    assert located_failure(sess, "(+ 1 1)\n\n(if)", "main.scm") == \
        ("main.scm", 3, "bad 'if' form: expected (if TEST THEN [ELSE]): (if)")
    assert located_failure(sess, '(list "a"\n "b)', "main.scm") == ("main.scm", 2, "unterminated string")
    assert located_failure(sess, "(for-each car\n  '(1))", "main.scm") == \
        ("main.scm", 1, "error in 'car': expected a pair, got 1")


def test_a_malformed_text_runs_none_of_its_forms():
    sess = session({"setenv": HOST["setenv"]}, environ={})
    with pytest.raises(SchemeError):
        sess.run_text('(setenv "RAN" "yes")\n(if)', "x.scm")
    assert sess.rt.ctx.environ == {}


def test_added_procedures_see_where_they_are_called_from():
    calls, table = [], {}
    registrar(table)("note!", 1)(lambda rt, text: calls.append((text, rt.call_site)) or UNSPECIFIED)
    sess = session(table)
    sess.run_text('(define (each xs) (for-each note! xs))\n\n(each (list "a"\n "b"))\n(note! "c")', "r.scm")
    assert calls == [("a", ("r.scm", 1)), ("b", ("r.scm", 1)), ("c", ("r.scm", 5))]


def test_host_forms_see_their_datum_unevaluated():
    seen = []
    sess = session(forms={"use": lambda datum, where: seen.append((to_text(datum), where)) or 7})
    assert sess.run_text("(use no-such-module)\n(+ 1 (use x))", "f.scm") == 8
    assert seen == [("(use no-such-module)", ("f.scm", 1)), ("(use x)", ("f.scm", 2))]


def test_the_language_alone_reaches_nothing_outside():
    assert not set(LANGUAGE) & set(HOST)
    for name in ("getenv", "setenv", "create-directory", "file-exists?", "args:get-arg", "nice-path"):
        with pytest.raises(UnknownProcedure) as err:
            session().run_text(f"({name} \"x\")")
        assert err.value.name == name and str(err.value) == f"unsupported procedure '{name}'"
