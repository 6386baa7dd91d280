"""A run as JUnit XML, the format Jenkins' junit step and GitLab's artifacts:reports:junit read.

One testsuite per run, one testcase per item record and per non-iterated test (classname:
the test, name: the itempath, or the test's name when it has no items; time: the duration).
A failing record carries <failure> (FAIL) or <error> (everything else that ended badly)
whose text is the comment, the last lines of its failing step's log, the log's path and
the command that reproduces it; a skipped, blocked or unfinished record carries <skipped>.
A flaky record passes and says so in <system-out>, with every attempt.
"""
import time
import xml.etree.ElementTree as ET

from megatest.report import logs, results


def document(runs):
    """The XML text for RUNS (results.runs(..., detail=True))."""
    root = ET.Element("testsuites", name="megatest")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    seconds = 0.0
    for run in runs:
        suite, sums, spent = _suite(run)
        root.append(suite)
        for key in totals:
            totals[key] += sums[key]
        seconds += spent
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{seconds:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _suite(run):
    suite = ET.Element("testsuite", name=f"{run['target']}/{run['runname']}")
    props = ET.SubElement(suite, "properties")
    for name in ("target", "runname", "host", "rundir"):
        ET.SubElement(props, "property", name=name, value=logs.xml_safe(str(run.get(name, ""))))
    sums = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    spent = 0.0
    for t in results.counted(run["tests"]):
        case, kind = _case(run, t)
        suite.append(case)
        sums["tests"] += 1
        if kind:
            sums[kind] += 1
        spent += t["run_duration"] or 0
    stamp = run["event_time"] or time.time()
    suite.attrib.update(tests=str(sums["tests"]), failures=str(sums["failures"]),
                        errors=str(sums["errors"]), skipped=str(sums["skipped"]),
                        time=f"{spent:.3f}", hostname=logs.xml_safe(run.get("host") or "localhost"),
                        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(stamp)))
    return suite, sums, spent


def _case(run, t):
    """(<testcase>, "failures" | "errors" | "skipped" | None)."""
    case = ET.Element("testcase", classname=t["testname"], name=t["item_path"] or t["testname"],
                      time=f"{t['run_duration'] or 0:.3f}")
    kind = None
    if t["outcome"] in results.FAILING:
        kind = "failures" if t["outcome"] == "fail" else "errors"
        tag = "failure" if kind == "failures" else "error"
        message = f"{t['state']}/{t['status']}" + (f": {t['comment']}" if t["comment"] else "")
        body = failure_text(t)
        el = ET.SubElement(case, tag, message=logs.xml_safe(message), type=t["status"] or "n/a")
        el.text = logs.xml_safe(body)
    elif t["outcome"] in ("skip", "running", "notrun"):
        kind = "skipped"
        why = {"skip": f"{t['status']}: {t['comment']}".rstrip(": "),
               "running": f"still {t['state']} when reported",
               "notrun": "not run"}[t["outcome"]]
        ET.SubElement(case, "skipped", message=logs.xml_safe(why))
    out = _system_out(t)
    if out:
        ET.SubElement(case, "system-out").text = logs.xml_safe(out)
    return case, kind


def failure_text(t):
    """What a failure says in every format: comment, log tail, log path, reproduce command."""
    parts = []
    if t["comment"]:
        parts.append(t["comment"])
    if t.get("log"):
        parts.append(f"--- last {logs.TAIL_LINES} lines of {t['log']} ---\n{logs.tail(t['log'])}")
    parts.append(f"log: {t.get('log') or '(none)'}")
    parts.append(f"reproduce: {t['reproduce']}")
    return "\n".join(parts) + "\n"


def _system_out(t):
    lines = []
    if t["flaky"]:
        lines.append(f"FLAKY: passed at attempt {t['attempt']} after failing before")
    if t["status"] == "WAIVED":
        lines.append(f"WAIVED: {t['comment']}".rstrip(": "))
    if len(t.get("attempts", [])) > 1:
        for a in t["attempts"]:
            lines.append(f"attempt {a['attempt']}: {a['state']}/{a['status']} exit "
                         f"{a['exit_code'] if a['exit_code'] is not None else '-'} on "
                         f"{a['host'] or '?'} in {a['duration'] or 0:.1f}s  log: {a['log'] or '-'}")
    return "\n".join(lines)
