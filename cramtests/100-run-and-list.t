1xx: basics. Make an area with mt-init, run it with mt-run, list it with mt-list.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os
  wrote */area/megatest.config (glob)
  wrote */area/runconfigs.config (glob)
  next: mt-init test NAME --area */area (glob)
  $ cd area
  $ mt-init test hello --steps "greet echo hello from \$arch;flags echo \$FLAGS"
  wrote */area/tests/hello/testconfig (glob)
  $ mt-init test pair --items "SIZE small large" --waiton hello
  wrote */area/tests/pair/testconfig (glob)
  $ grep -v '^#' tests/pair/testconfig | grep .
  [ezsteps]
  hello echo "hello from $MT_TEST_NAME $MT_ITEMPATH"
  [requirements]
  waiton hello
  [items]
  SIZE small large
  [test_meta]
  author * (glob)
  owner * (glob)
  description test pair
  tags

Per-target variables: [default], a wildcard section, a concrete target.

  $ cat >> runconfigs.config <<'CFG'
  > FLAGS -O1
  > [x86/%]
  > FLAGS -O2 -m64
  > [x86/linux]
  > CFG
  $ mt-list targets
  x86/linux

The target has one value per key. Without a terminal, mt-run prints one line per test
as it finishes, then a summary; exit 0 means every test is clean.

  $ mt-run --target x86/linux --runname r1 > run.out; echo "exit $?"
  exit 0
  $ sort run.out
  COMPLETED  PASS     hello  \(\d+\.\ds\) (re)
  COMPLETED  PASS     pair/large  \(\d+\.\ds\) (re)
  COMPLETED  PASS     pair/small  \(\d+\.\ds\) (re)
  run x86/linux/r1: 3 tests and items in \d+\.\ds: 3 PASS (re)
  $ cat lt/x86/linux/r1/hello/greet.log lt/x86/linux/r1/hello/flags.log
  hello from x86
  -O2 -m64

mt-list runs: the default text table, one line per record, sorted by test then item:

  $ mt-list runs
  x86/linux/r1  completed  PASS  (run-id 1, 4 records: 3 tests and items, 1 toplevel)
    hello  +COMPLETED +PASS +\d+\.\ds (re)
    pair  +COMPLETED +PASS +\d+\.\ds (re)
    pair/large  +COMPLETED +PASS +\d+\.\ds (re)
    pair/small  +COMPLETED +PASS +\d+\.\ds (re)
  $ mt-list runs --testpatt 'pair/%' --runname 'r%' --target 'x86/%'
  x86/linux/r1  completed  PASS  (run-id 1, 3 records: 2 tests and items, 1 toplevel)
    pair  +COMPLETED +PASS +\d+\.\ds (re)
    pair/large  +COMPLETED +PASS +\d+\.\ds (re)
    pair/small  +COMPLETED +PASS +\d+\.\ds (re)
  $ mt-list runs --runname 'nosuch'; echo "exit $?"
  mt-list: no run matches --runname nosuch
  exit 0

--megatest prints Megatest's -list-runs text, column for column:

  $ mt-list runs --megatest
  Run: x86/linux/r1 status: completed run-id: 1, number tests: 4 event_time: \d+ (re)
    Test: hello                     State: COMPLETED       Status: PASS            Runtime: +\d+s Time: \d+ +Host: \S+ * (re)
    Test: pair                      State: COMPLETED       Status: PASS            Runtime: +\d+s Time: \d+ +Host: * (re)
    Test: pair\(large\)               State: COMPLETED       Status: PASS            Runtime: +\d+s Time: \d+ +Host: \S+ * (re)
    Test: pair\(small\)               State: COMPLETED       Status: PASS            Runtime: +\d+s Time: \d+ +Host: \S+ * (re)

--json is one array of runs, each with its test records:

  $ mt-list runs --json | python3 -c '
  > import json, sys
  > run = json.load(sys.stdin)[0]
  > print(run["target"], run["keys"], run["runname"], run["state"], run["status"])
  > for t in run["tests"]:
  >     print(t["testname"], repr(t["item_path"]), t["state"], t["status"], t["rundir"])'
  x86/linux {'arch': 'x86', 'os': 'linux'} r1 completed PASS
  hello '' COMPLETED PASS */area/lt/x86/linux/r1/hello (glob)
  pair '' COMPLETED PASS */area/lt/x86/linux/r1/pair (glob)
  pair 'large' COMPLETED PASS */area/lt/x86/linux/r1/pair/large (glob)
  pair 'small' COMPLETED PASS */area/lt/x86/linux/r1/pair/small (glob)

The other listings:

  $ mt-list tests
  hello       */area/tests/hello (glob)
  pair        */area/tests/pair  waiton: hello  items: SIZE (glob)
  $ mt-list config --target x86/linux | grep -A2 '^\[fields\]'
  [fields]
  arch TEXT
  os TEXT

Running the same command again resumes the run: finished tests are kept, nothing relaunches.

  $ mt-run --target x86/linux --runname r1 --quiet; echo "exit $?"
  run x86/linux/r1: 3 tests and items in \d+\.\ds: 3 PASS (re)
  exit 0
  $ mt-list runs --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
  1

The run's files: run directories on the disk, links in the link tree, the wrapper's record
in .mt-steps (its pid and start time, each step's start and end, its exit code
and time), the test's environment in megatest.sh, and the shared copy of the database.

  $ ls runs-disk/x86/linux/r1 lt/x86/linux/r1/pair
  lt/x86/linux/r1/pair:
  large
  small
  
  runs-disk/x86/linux/r1:
  hello
  pair
  $ readlink lt/x86/linux/r1/hello
  */area/runs-disk/x86/linux/r1/hello (glob)
  $ sed 's/[0-9.]*$/N/; s/^pid [0-9]*/pid P/' lt/x86/linux/r1/hello/.mt-steps
  pid P N
  start greet N
  end greet 0 step N
  start flags N
  end flags 0 step N
  exit 0 N
  $ grep -E '^export (MT_TARGET|MT_TEST_NAME|FLAGS)=' lt/x86/linux/r1/hello/megatest.sh
  export FLAGS="-O2 -m64"
  export MT_TARGET="x86/linux"
  export MT_TEST_NAME="hello"
  $ test -f megatest.db && echo shared db present
  shared db present
