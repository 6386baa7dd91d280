4xx: hardening. Selectors that match nothing and options that do nothing: a typo never
looks like success.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ mt-init test build > /dev/null
  $ mt-init test unit --waiton build --items "SIZE small big" > /dev/null

An element of --testpatt that selects nothing is named; the rest runs:

  $ mt-run --target a/b --runname r1 --testpatt build,nosuch --quiet; echo "exit $?"
  mt-run: warning: --testpatt element 'nosuch' selects no test or item; ignored
  COMPLETED  PASS     build  (*s) (glob)
  run a/b/r1: 1 test or item in *s: 1 PASS (glob)
  exit 0

An item the test does not have, when nothing else is selected, refuses the run:

  $ mt-run --target a/b --runname r2 --testpatt unit/huge; echo "exit $?"
  mt-run: error: --testpatt 'unit/huge' selects no test or item of this area
    try: unit's items: small big
  exit 2

A status no one knows is warned about, in mt-run and mt-list:

  $ mt-run --target a/b --runname r1 --testpatt build --rerun PASSED --quiet; echo "exit $?"
  mt-run: warning: --rerun 'PASSED' is not a known status (did you mean PASS?); no record will have it
  run a/b/r1: 1 test or item in *s: 1 PASS (glob)
  exit 0
  $ mt-list runs --status PASSED
  mt-list: warning: --status 'PASSED' is not a known status (did you mean PASS?)
  mt-list: --status PASSED selected no record in 1 matching run
  a/b/r1  completed  PASS  (run-id 1, 0 records)

Options are checked before --dry-run does anything:

  $ mt-run --target a/b --runname r1 -j zero --dry-run; echo "exit $?"
  mt-run: error: -j expects an integer, got 'zero'
  exit 2

mt-list and mt-clean read a target pattern the same way (missing parts are free):

  $ mt-list runs --target a
  a/b/r1  completed  PASS  (run-id 1, 1 record)
    build                 COMPLETED   PASS               *s (glob)
  $ mt-clean --target a --runname r1
  a/b/r1: removed 1 record

--area takes a file of the area too:

  $ mt-list targets --area $PWD/megatest.config; echo "exit $?"
  exit 0

A name too long for a directory is refused at start, nothing registered:

  $ mt-run --target a/b --runname $(printf 'x%.0s' $(seq 300)); echo "exit $?"
  mt-run: error: --runname 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' is 300 bytes long; a directory name may have at most 255 here
    try: use a shorter name (it becomes a directory of the run)
  exit 2

A broken testconfig refuses only the runs that need it:

  $ mt-init test bad > /dev/null
  $ printf '[requirements\n' > tests/bad/testconfig
  $ mt-run --target a/b --runname r3 --testpatt build --quiet 2>&1 | sed "s|$PWD|AREA|"
  mt-run: warning: AREA/tests/bad/testconfig:1: bad section header '[requirements' (missing ']'?); test bad is not selected, so it is skipped
  COMPLETED  PASS     build  (*s) (glob)
  run a/b/r3: 1 test or item in *s: 1 PASS (glob)
  $ mt-run --target a/b --runname r4 --testpatt bad 2>&1 | sed "s|$PWD|AREA|"
  mt-run: error: AREA/tests/bad/testconfig:1: bad section header '[requirements' (missing ']'?)
  $ mt-list tests 2>&1 | sed "s|$PWD|AREA|"
  mt-list: warning: AREA/tests/bad/testconfig:1: bad section header '[requirements' (missing ']'?); test bad not listed
  build       AREA/tests/build
  unit        AREA/tests/unit  waiton: build  items: SIZE

The megatest front end names its own switch:

  $ megatest -run -target a/b -runname r5 -testpatt nosuch; echo "exit $?"
  megatest: error: -testpatt 'nosuch' selects no test of this area
    try: mt-list tests   (the tests this area defines)
  exit 2
