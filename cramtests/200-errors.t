2xx: errors. Bad input exits 2 with one message naming the file and line, or the
argument; never a traceback.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ mt-init test t1 > /dev/null

A target must have one value per key; nothing is registered:

  $ mt-run --target a --runname r; echo "exit $?"
  mt-run: error: target 'a' has 1 part(s) but the area has 2 keys (arch/os)
    try: --target <arch>/<os>
  exit 2
  $ mt-run --target 'a/b c' --runname r; echo "exit $?"
  mt-run: error: target 'a/b c': part 'b c' is empty, . or .., or contains whitespace, a control character, %, * or ,
  exit 2
  $ mt-list runs --json
  []

A usage error names the argument:

  $ mt-run --target a/b; echo "exit $?"
  mt-run: error: missing --runname
    try: mt-run --target TARGET --runname NAME * (glob)
  exit 2

  $ mt-run --target a/b --runname r -j x; echo "exit $?"
  mt-run: error: -j expects an integer, got 'x'
  exit 2
  $ mt-run --target a/b --runname r --bogus 2> err; echo "exit $?"; head -n 1 err
  exit 2
  mt-run: error: unknown option --bogus
  $ mt-list runs --target; echo "exit $?"
  mt-list: error: --target requires an argument
    try: mt-list runs [--target PATT] [--runname PATT] [--testpatt PATT] [--state LIST]   (see --help)
  exit 2
  $ mt-init area; echo "exit $?"
  mt-init: error: area DIR: missing --keys KEY1/KEY2...
    try: mt-init area DIR --keys os/arch
  exit 2
  $ mt-init test 'bad/name'; echo "exit $?"
  mt-init: error: test name 'bad/name' may not be empty, start with '.', or contain whitespace or / , % * ~ ( )
  exit 2

A missing area, and a directory without megatest.config:

  $ mt-list runs --area /nonexistent; echo "exit $?"
  mt-list: error: test area /nonexistent (from --area) does not exist
  exit 2
  $ mkdir $CRAMTMP/empty; (cd $CRAMTMP/empty && mt-list tests); echo "exit $?"
  mt-list: error: no megatest.config found in */empty or any directory above it (glob)
    try: mt-init area DIR --keys KEY1/KEY2, or pass --area DIR
  exit 2

#{scheme ...} outside the supported subset stops the command at once, naming megatest.config,
the line and the procedure:

  $ cp megatest.config megatest.config.good
  $ sed -n 12p megatest.config
  os TEXT
  $ sed -i '12a ignored #{scheme (system "touch /tmp/x")}' megatest.config
  $ mt-run --target a/b --runname r 2> err; echo "exit $?"; sed "s|$PWD|AREA|" err
  exit 2
  mt-run: error: AREA/megatest.config:13: #{scheme ...}: unsupported procedure 'system'
  $ mt-list config 2> err; echo "exit $?"; sed "s|$PWD|AREA|" err
  exit 2
  mt-list: error: AREA/megatest.config:13: #{scheme ...}: unsupported procedure 'system'
  $ cp megatest.config.good megatest.config

A [fields] key that is a reserved column name:

  $ sed -i 's/^os TEXT/status TEXT/' megatest.config
  $ mt-run --target a/b --runname r; echo "exit $?"
  mt-run: error: */area/megatest.config:12: key name 'status' in [fields] is reserved (used by the runs table) (glob)
  exit 2
  $ cp megatest.config.good megatest.config

A waiton cycle is refused before anything launches:

  $ mt-init test ca --waiton cb > /dev/null 2>&1
  $ mt-init test cb --waiton ca > /dev/null
  $ mt-run --target a/b --runname r; echo "exit $?"
  mt-run: error: waiton cycle: c? -> c? -> c? (glob)
    try: remove one of these waitons; a cycle can never start
  exit 2
  $ mt-list runs --json; ls runs-disk
  []
  $ rm -r tests/ca tests/cb

An unknown waiton gives one ERROR: line and the test still runs; a waiton on itself is a
warning:

  $ mt-init test w --waiton nosuch > /dev/null 2>&1
  $ mkdir tests/self; printf '[requirements]\nwaiton self\n[ezsteps]\ns1 true\n' > tests/self/testconfig
  $ mt-run --target a/b --runname r --quiet > out; echo "exit $?"
  warning: test self waits on itself; ignored
  ERROR: test w: unrecognised waiton nosuch
  exit 0
  $ sort out
  COMPLETED  PASS     self  \(\d+\.\ds\) (re)
  COMPLETED  PASS     t1  \(\d+\.\ds\) (re)
  COMPLETED  PASS     w  \(\d+\.\ds\) (re)
  run a/b/r: 3 tests and items in \d+\.\ds: 3 PASS (re)
