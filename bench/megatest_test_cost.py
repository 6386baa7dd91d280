"""Cost of a test-side `megatest` call (-test-status, -step) against the same call through
`mt-test`, in a test's environment: a real live database, a RUNNING record, MT_CMDINFO.

Usage: python bench/megatest_test_cost.py [N]     (default N = 200 calls of each kind)

Uses the installed .venv/bin/megatest and mt-test when present, else `python -c`. The two
commands alternate in blocks of BLOCK calls, so that a machine slowing down or speeding up
during the measurement weighs on both alike. What to judge is the ratio: megatest must
stay as cheap as mt-test (its dispatcher scans argv and imports what mt-test imports).
"""
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mt_test_cost import DEFAULT_CALLS, REPO, make_area, mt_test_command, p95, time_calls  # noqa: E402

BLOCK = 20
RATIO_LIMIT = 1.10       # megatest may cost at most this much more than mt-test
RUNNER = ("import sys; from megatest.commands.entry import run_command; "
          "sys.exit(run_command('megatest', sys.argv[1:], prog='megatest'))")
# (label, megatest arguments, the same call through mt-test)
CALLS = [
    ("status", ["-test-status", ":state", "RUNNING", ":status", "PASS", "-m", "ok"],
     ["status", "RUNNING", "PASS", "--comment", "ok"]),
    ("step", ["-step", "build", ":state", "start", ":status", "n/a"],
     ["step", "build", "start"]),
]


def megatest_command():
    installed = os.path.join(REPO, ".venv", "bin", "megatest")
    if os.access(installed, os.X_OK):
        return [installed]
    return [sys.executable, "-c", RUNNER]


def alternate(first, second, environ, calls):
    """Time CALLS runs of each argv, alternating blocks of BLOCK calls."""
    times = ([], [])
    done = 0
    while done < calls:
        n = min(BLOCK, calls - done)
        times[0].extend(time_calls(first, environ, n))
        times[1].extend(time_calls(second, environ, n))
        done += n
    return times


def main(argv):
    calls = int(argv[0]) if argv else DEFAULT_CALLS
    mt_test, python, label = mt_test_command()
    megatest = megatest_command()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mt-bench-") as tmp:
        environ = make_area(tmp)
        baseline = time_calls([python, "-c", "pass"], environ, calls)
        for what, mega_args, mt_args in CALLS:
            mt_times, mega_times = alternate(mt_test + mt_args, megatest + mega_args, environ, calls)
            rows.append((what, mt_times, mega_times))
    print(f"test-side call cost, {calls} calls of each; mt-test = {label}, megatest = {megatest[0]}")
    print(f"{'call':<8}{'mt-test ms':>12}{'p95':>8}{'megatest ms':>13}{'p95':>8}{'ratio':>8}")
    worst = 0.0
    for what, mt_times, mega_times in rows:
        mt_med, mega_med = statistics.median(mt_times), statistics.median(mega_times)
        worst = max(worst, mega_med / mt_med)
        print(f"{what:<8}{mt_med:>12.1f}{p95(mt_times):>8.1f}{mega_med:>13.1f}"
              f"{p95(mega_times):>8.1f}{mega_med / mt_med:>7.2f}x")
    print(f"python -c pass: median {statistics.median(baseline):.1f} ms")
    print(f"worst ratio megatest / mt-test: {worst:.2f}x; limit {RATIO_LIMIT:.2f}x: "
          f"{'met' if worst <= RATIO_LIMIT else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
