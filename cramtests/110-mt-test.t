1xx: basics. A test reports its own steps, data and status with mt-test.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area

measure: its runscript records a step, sets one data row, loads two from CSV, and asks for
the status AUTO, computed from the data (all three rows pass).

  $ mkdir tests/measure tests/runstep
  $ cat > tests/measure/testconfig <<'CFG'
  > [setup]
  > runscript measure.sh
  > CFG
  $ cat > tests/measure/measure.sh <<'SH'
  > #!/bin/sh
  > mt-test step prepare start
  > echo preparing > prepare.log
  > mt-test step prepare end --status 0 --logfile prepare.log
  > mt-test data set perf speed 12 --expected 10 --tol 5 --units MB/s
  > printf 'perf,latency,3.5,2,>\nperf,size,90,100,<=,KiB\n' > data.csv
  > mt-test data load data.csv
  > mt-test status COMPLETED AUTO --comment "status from the data"
  > SH
  $ chmod +x tests/measure/measure.sh

runstep: its runscript runs a step through mt-test (exit 3), then sets a data row that
fails and asks for the status AUTO (as in Megatest, failed data decides the status only
through AUTO: a script that just exits 0 ends PASS).

  $ cat > tests/runstep/testconfig <<'CFG'
  > [setup]
  > runscript run.sh
  > CFG
  $ cat > tests/runstep/run.sh <<'SH'
  > #!/bin/sh
  > mt-test runstep hello 'echo hi; echo e >&2; exit 3'
  > echo "runstep exited $?"
  > mt-test data set perf speed 2 --expected 10 --tol 5
  > mt-test status RUNNING AUTO
  > SH
  $ chmod +x tests/runstep/run.sh

The runstep test's data row fails, so AUTO ends FAIL and mt-run exits 1:

  $ mt-run --target a/b --runname r --quiet > run.out; echo "exit $?"
  exit 1
  $ mt-list runs
  a/b/r  completed  FAIL  (run-id 1, 2 records)
    measure  +COMPLETED +PASS +\d+\.\ds  status from the data (re)
    runstep  +COMPLETED +FAIL +\d+\.\ds (re)
  $ mt-list runs --megatest | sed 's/ *$//'
  Run: a/b/r status: completed run-id: 1, number tests: 2 event_time: \d+ (re)
    Test: measure                   State: COMPLETED       Status: PASS            Runtime: +\d+s Time: \d+ +Host: \S+ (re)
    Test: runstep                   State: COMPLETED       Status: FAIL            Runtime: +\d+s Time: \d+ +Host: \S+ (re)
           cpuload: .* (re)
           diskfree: .* (re)
           uname:.* (re)
           rundir:   */area/lt/a/b/r/runstep (glob)
      Step: hello                State: start      Status: n/a        Time \d+ (re)
      Step: hello                State: end        Status: 3          Time \d+ (re)

The run step's stdout and stderr both went to its log; the runscript saw its exit code:

  $ cat lt/a/b/r/runstep/hello.log lt/a/b/r/runstep/runscript.log
  hi
  e
  runstep exited 1

Steps and data rows, as stored in the area's shared database:

  $ sqlite-utils megatest.db "select t.testname, s.stepname, s.state, s.status from test_steps s join tests t on t.id = s.test_id order by t.testname, s.id" --csv | tr -d "\r"
  testname,stepname,state,status
  measure,prepare,start,n/a
  measure,prepare,end,0
  runstep,hello,start,n/a
  runstep,hello,end,3
  $ sqlite-utils megatest.db "select t.testname, d.category, d.variable, d.value, d.expected, d.tol, d.units, d.status from test_data d join tests t on t.id = d.test_id order by t.testname, d.variable" --csv | tr -d "\r"
  testname,category,variable,value,expected,tol,units,status
  measure,perf,latency,3.5,2,>,,pass
  measure,perf,size,90,100,<=,KiB,pass
  measure,perf,speed,12,10,5,MB/s,pass
  runstep,perf,speed,2,10,5,,fail
  $ sqlite-utils megatest.db "select testname, pass_count, fail_count from tests order by testname" --csv | tr -d "\r"
  testname,pass_count,fail_count
  measure,3,0
  runstep,0,1

Outside a test, mt-test refuses (exit 2):

  $ mt-test status COMPLETED PASS; echo "exit $?"
  mt-test: error: not inside a test: MT_RUN_AREA_HOME, MT_TARGET, MT_RUNNAME, MT_TEST_NAME not set
    try: mt-test is called by a test's steps or runscript that mt-run started
  exit 2
