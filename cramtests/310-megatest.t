3xx: megatest, Megatest's own single-dash command line, on the same library as mt-*.
Users switch by putting it first on PATH; scripts and Makefiles stay as they are.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ megatest -version
  1\.\d+-py\d+\.\d+\.\d+ (re)
  $ megatest -h | sed -n '/^Usage:/{n;p;}'
    megatest (-run | -runall) -target TARGET -runname NAME [-testpatt PATT] [-itempatt PATT]

An area, made as Megatest makes one: it asks where, and for the keys (mt-init does the rest).

  $ printf 'area\narch/os\n' | megatest -create-megatest-area | grep wrote
  wrote */area/megatest.config (glob)
  wrote */area/runconfigs.config (glob)
  $ cd area
  $ megatest -create-test hello
  wrote */area/tests/hello/testconfig (glob)

A test whose runscript reports through $MT_MEGATEST, the way Megatest's tests do:

  $ mkdir tests/report
  $ printf '[setup]\nrunscript main.sh\n' > tests/report/testconfig
  $ cat > tests/report/main.sh <<'SH'
  > #!/bin/sh
  > $MT_MEGATEST -step check :state start :status n/a
  > $MT_MEGATEST -step check :state end :status 1
  > $MT_MEGATEST -test-status :state COMPLETED :status FAIL -m "checked by hand"
  > SH
  $ chmod +x tests/report/main.sh

-run waits until the run ends, and exits 0 even though a test failed, as Megatest's
does (a Makefile chaining runs goes on):

  $ megatest -run -target x86/linux -runname r1 > run.out; echo "exit $?"
  exit 0
  $ megatest -list-runs r1
  Run: x86/linux/r1 arch: x86 os: linux id: 1 runname: r1 state: completed status: n/a owner: \S+ event_time: \d+ comment: #f fail_count: 1 pass_count: 1  (re)
    Test: hello                     State: COMPLETED       Status: PASS            Runtime: +\d+s Time: \d+ +Host: \S+ * (re)
    Test: report                    State: COMPLETED       Status: FAIL            Runtime: +\d+s Time: \d+ +Host: \S+ * (re)
           cpuload:  -?\d+\.\d+ (re)
           diskfree: -?\d+ (re)
           uname:    .* (re)
           rundir:   */area/lt/x86/linux/r1/report (glob)
      Step: check                State: start      Status: n/a        Time \d+ * (re)
      Step: check                State: end        Status: 1          Time \d+ * (re)
  $ megatest -list-db-targets
  x86/linux
  $ megatest -test-paths -target x86/linux -runname r1 -testpatt report
  */area/lt/x86/linux/r1/report (glob)

Changes by hand: records' state and status (locked runs are skipped), then removal.

  $ megatest -set-state-status COMPLETED,WAIVED -target x86/linux -runname r1 -testpatt report
  x86/linux/r1: 1 record set to COMPLETED/WAIVED
  $ megatest -list-runs r1 -status WAIVED | grep -c 'Test: report .*Status: WAIVED'
  1
  $ megatest -remove-runs -target x86/linux -runname r1 -testpatt hello
  x86/linux/r1: removed 1 record

Any switch this megatest does not know is refused by name; one that changes nothing
here says so once:

  $ megatest -list-runs % -fields runs:id; echo "exit $?"
  megatest: error: unknown switch -fields
    try: megatest -h
  exit 2
  $ megatest -list-db-targets -transport http
  megatest: -transport http: ignored (this Megatest has one server, mt-serve, speaking JSON over HTTP)
  x86/linux
