"""megatest: Megatest's own command line (single-dash switches) on this project's library.

Users come over from Megatest by putting this `megatest` first on PATH: their Makefiles,
scripts and testconfigs keep calling `megatest -run ...` and `$MT_MEGATEST -step ...`.
Nothing is implemented twice: each switch becomes a call of the mt-* command modules or of
the library functions they use (megatest_run.py outside a test, megatest_test.py inside).

Every test step may call this, so this module parses argv by hand, with Megatest's own rule
(a known switch takes the next word or none; the rest are plain words), and picks the side by
scanning argv: a call from inside a test imports what mt-test imports and nothing more.
"""
import sys

from megatest.commands.megatest_switches import HELP, TEST_SIDE, USAGE, common, parse
from megatest.errors import UsageError


def main(argv):
    if not argv:
        raise UsageError("nothing to do: give an action switch (-run, -list-runs, -test-status ...)",
                         hint="megatest -h")
    if any(word in HELP for word in argv):
        sys.stdout.write(USAGE)
        return 0
    opts, words = parse(argv)
    common(opts)
    if any(switch in opts for switch in TEST_SIDE):
        from megatest.commands import megatest_test
        return megatest_test.main(opts, words)
    from megatest.commands import megatest_run
    return megatest_run.main(opts, words)
