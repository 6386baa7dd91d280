0xx: help and install. Every command prints its docopt usage with --help and exits 0.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ for c in mt-run mt-list mt-test mt-init; do $c --help > $c.help; echo "$c --help: exit $?"; done
  mt-run --help: exit 0
  mt-list --help: exit 0
  mt-test --help: exit 0
  mt-init --help: exit 0

The first usage line of each:

  $ for c in mt-run mt-list mt-test mt-init; do sed -n '/^Usage:/{n;p;}' $c.help; done
    mt-run --target TARGET --runname NAME * (glob)
    mt-list runs * (glob)
    mt-test status STATE STATUS * (glob)
    mt-init area DIR --keys KEYS* (glob)

Each help text ends with the meaning of the exit codes:

  $ grep -l '^Exit status' *.help
  mt-init.help
  mt-list.help
  mt-run.help
  mt-test.help

-h is the same text:

  $ mt-run -h | cmp - mt-run.help && echo same
  same

The commands on PATH are the installed ones (make puts them in .venv/bin), and --help
needs no test area:

  $ for c in mt-run mt-list mt-test mt-init; do command -v $c; done
  */.venv/bin/mt-run (glob)
  */.venv/bin/mt-list (glob)
  */.venv/bin/mt-test (glob)
  */.venv/bin/mt-init (glob)
  $ (cd / && mt-list --help | grep -c '^Usage:')
  1

A command without its arguments is a usage error (exit 2), never a traceback:

  $ mt-list; echo "exit $?"
  mt-list: error: missing what to list: expected one of runs, history, failures, targets, tests, config
    try: mt-list runs --json   (see mt-list --help)
  exit 2
  $ mt-init > out 2>&1; echo "exit $?"; grep Traceback out || echo "no traceback"
  exit 2
  no traceback
