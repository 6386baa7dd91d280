1xx: basics. Running the same run again resumes it; --rerun, --rerun-clean and --rerun-all
choose what runs again.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ mt-init test ok --steps "s1 date +%s%N > stamp" > /dev/null
  $ mt-init test flaky --steps "s1 test -e \$MT_RUN_AREA_HOME/fixed" > /dev/null
  $ attempt() { mt-run --target a/b --runname r --quiet "$@" > out; echo "exit $?"; mt-list runs | tail -n +2 | awk '{print $1, $2, $3}'; }
  $ stamp() { cat lt/a/b/r/ok/stamp; }

  $ attempt
  exit 1
  flaky COMPLETED FAIL
  ok COMPLETED PASS
  $ before=$(stamp)

The same command again: finished records are kept, nothing is launched:

  $ attempt
  exit 1
  flaky COMPLETED FAIL
  ok COMPLETED PASS
  $ test "$(stamp)" = "$before" && echo ok kept
  ok kept

--rerun FAIL relaunches only the failed record (here it now passes):

  $ touch fixed
  $ attempt --rerun FAIL
  exit 0
  flaky COMPLETED PASS
  ok COMPLETED PASS
  $ test "$(stamp)" = "$before" && echo ok kept
  ok kept

--rerun-all relaunches everything, in a cleaned run directory:

  $ rm fixed
  $ attempt --rerun-all
  exit 1
  flaky COMPLETED FAIL
  ok COMPLETED PASS
  $ test "$(stamp)" != "$before" && echo ok ran again
  ok ran again
  $ before=$(stamp)

--rerun-clean relaunches records that did not end well (FAIL, ABORT, CHECK, KILLED ...):

  $ touch fixed
  $ attempt --rerun-clean
  exit 0
  flaky COMPLETED PASS
  ok COMPLETED PASS
  $ test "$(stamp)" = "$before" && echo ok kept
  ok kept
