"""The text outputs of a check: the summary after the annotated log, and the .dat file.

The .dat file is what Megatest loads as test data (behaviour.md §11.7). Its layout is
logpro's: a `[rule-N]` section for each value rule (count rules have none, so a failed
warning rule cannot add a `fail` row that would turn a WARN step into FAIL), then `[final]`
with the exit code, its status word and the message of the rule that decided it.
"""
import os

from megatest.config.scheme import to_text
from megatest.logpro import model
from megatest.logpro.check import expectation

BANNER = "==========================LOGPRO SUMMARY=========================="


def dat_path(html_path):
    """logpro's .dat name: the HTML file's path without its extension, plus .dat."""
    return os.path.splitext(html_path or "summary")[0] + ".dat"


def by_section(rule_states):
    """[(section, [rule states])] in the order sections are first used, rules by number."""
    groups = {}
    for state in rule_states:
        groups.setdefault(state.rule.section, []).append(state)
    return [(name, sorted(states, key=lambda s: s.rule.num)) for name, states in groups.items()]


def expected_text(rule):
    """`= 0`, `> 2` for count rules; `1.9 +/- 0.1`, `< 3` for value rules."""
    if rule.is_value:
        return expectation(rule)
    return f"{rule.comparator.symbol} {to_text(rule.expected)}"


def got_text(state):
    """What the log gave: a count, or the last value with the pass and fail tallies."""
    if state.rule.is_value:
        measured = "-" if state.measured is None else to_text(state.measured)
        return f"{measured} ({state.passes} pass, {state.fails} fail)"
    return str(state.count)


def summary_lines(verdict):
    """The summary logpro prints after the annotated log."""
    lines = [BANNER]
    for t in verdict.triggers:
        lines.append(f"Trigger: {t.trigger.name} {t.status}, count={t.hits.count}")
    for section, states in by_section(verdict.rules):
        lines.append("")
        lines.append(f"Expects for {section} section:")
        for s in states:
            r = s.rule
            regexes = ", ".join(p.label for p in r.patterns)
            lines.append(f"Expect: rule-{r.num} {r.label} {r.where} {section} "
                         f"{'OK' if s.ok else 'FAIL'}, expected {expected_text(r)} of "
                         f"\"{r.desc}\", got {got_text(s)}, rx={regexes}")
    lines.append("")
    ending = f": {verdict.message}" if verdict.message else ""
    lines.append(f"LOGPRO EXIT CODE: {verdict.code} ({verdict.status}){ending}")
    return lines


def dat_text(verdict):
    """The .dat file for VERDICT (config syntax: [section] lines, then `key value` lines)."""
    out = []
    for section, states in by_section(verdict.rules):
        for s in states:
            if s.rule.is_value:
                out.extend(_value_section(s, section))
    out += ["[final]", f"exit-code {verdict.code}", f"exit-status {verdict.status}"]
    if verdict.message:
        out.append(f"message {_one_line(verdict.message)}")
    return "\n".join(out) + "\n"


def _value_section(state, section):
    r = state.rule
    lines = [f"[rule-{r.num}]", f"operator {r.where}", f"section {_one_line(section)}",
             f"desc {_one_line(r.desc)}", f"status {'OK' if state.ok else 'FAIL'}",
             f"expected {to_text(r.expected)}",
             f"measured {'-' if state.measured is None else _one_line(to_text(state.measured))}"]
    if isinstance(r.tol, model.Comparator):
        lines.append(f"type {r.tol.symbol}")
    else:
        lines += ["type +/-", f"tolerance {to_text(r.tol)}"]
    return lines + [f"pass {state.passes}", f"fail {state.fails}", ""]


def _one_line(text):
    """TEXT fit for one `key value` line: no line breaks, no bytes that are not UTF-8."""
    text = " ".join(str(text).splitlines()).strip()
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
