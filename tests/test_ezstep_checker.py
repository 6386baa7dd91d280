"""An ezstep checked by logpro (behaviour.md §11.4 step 3): the checker's NAME.dat becomes test
data, its verdict message is the step's comment, and failed data fails the test."""
from conftest import mt, records
from test_runner import db_rows


def data_rows(area):
    return db_rows(area, "SELECT d.category, d.variable, d.value, d.status FROM test_data d "
                         "ORDER BY d.category, d.variable")


def steps(area):
    return {(s, st): (status, comment) for s, st, status, comment in
            db_rows(area, "SELECT stepname, state, status, comment FROM test_steps")}


def test_ezstep_checker_data_and_message_are_recorded(make_area, mt_env):
    area = make_area({
        "volts": "[ezsteps]\nmeasure echo 'Measured voltage: 1.93v'\n\n[logpro]\n"
                 "measure (expect:value in \"LogFileBody\" 1.9 0.1 \"Output voltage\" "
                 "#/Measured voltage:\\s*([\\d.]+)v/)\n",
        "missing": "[ezsteps]\nlook echo nothing here\n\n[logpro]\n"
                   "look (expect:required in \"LogFileBody\" > 0 \"The banner\" #/BANNER/)\n",
    })
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "r", "--quiet", env=mt_env)
    assert out.returncode == 1, out.stderr
    recs = records(area, mt_env)
    assert (recs["volts"]["status"], recs["missing"]["status"]) == ("PASS", "FAIL")
    rows = data_rows(area)
    assert ("measure", "final", "0", "pass") in [r[:2] + (str(r[2]), r[3].lower()) for r in rows]
    assert any(r[0] == "measure" and r[1] != "final" and str(r[2]).startswith("1.93") for r in rows), rows
    assert any(r[0] == "look" and r[1] == "final" and r[3].lower() == "fail" for r in rows), rows
    status, comment = steps(area)[("look", "end")]
    assert status == "1" and comment.startswith("FAIL: ") and "The banner" in comment
