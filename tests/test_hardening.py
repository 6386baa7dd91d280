"""Issue 9: no hang, no silent no-op. Each test here failed (or hung) before its fix."""
import pytest

from conftest import mt, records


@pytest.mark.parametrize("value", ["../x", "a\\\\;b"])
def test_refused_late_item_value_ends_the_run_with_its_abort(make_area, mt_env, value):
    """A [system] item list expanded at run time with a refused value: the toplevel ends
    COMPLETED/ABORT, the runner is told, and the summary and exit code count it."""
    area = make_area({"t": f"[items]\nV [system echo {value}]\n\n[ezsteps]\ns echo $V\n"})
    out = mt("run", "--area", area, "--target", "a/b", "--runname", "rt", "--testpatt", "t",
             "--quiet", env=mt_env, timeout=30)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "1 test or item in" in out.stdout and ": 1 ABORT" in out.stdout
    assert "COMPLETED/ABORT  t (" in out.stdout
    assert records(area, mt_env)["t"]["status"] == "ABORT"
