4xx: hardening. Honest records and words: what a runconfig value runs and when, and
counts that say what they count.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ mt-init test up --steps "s false" > /dev/null
  $ mt-init test down --waiton up --items "V 1 2 3" > /dev/null
  $ cat >> runconfigs.config <<'CFG'
  > GREETING hello; touch ran-at-run-time
  > SHOUT $GREETING!
  > CFG

Looking at the runconfig runs none of it: values are shown as written, as Megatest's
-show-runconfig does:

  $ mt-list config --target a/b | tail -3
  [a/b]
  GREETING hello; touch ran-at-run-time
  SHOUT $GREETING!
  $ mt-run --target a/b --runname r --dry-run > /dev/null; ls ran-at-run-time
  ls: cannot access 'ran-at-run-time': No such file or directory
  [2]

A run hands each value to the shell as `echo VALUE` and keeps the first line (Megatest's
rule), so its commands run then:

  $ mt-run --target a/b --runname r --quiet; echo "exit $?"
  COMPLETED  FAIL     up  (*s) (glob)
  run a/b/r: 4 tests and items in *s: 1 FAIL, 3 PREQ_FAIL (glob)
    NOT_STARTED/PREQ_FAIL  down/1 (upstream up failed)
    NOT_STARTED/PREQ_FAIL  down/2 (upstream up failed)
    NOT_STARTED/PREQ_FAIL  down/3 (upstream up failed)
    COMPLETED/FAIL  up (failed at step s)  log: */up/s.log (glob)
  exit 1
  $ ls ran-at-run-time
  ran-at-run-time

The summary counts tests and items; the listing shows every record and says which of
them the summary counted (the toplevel of down only rolls up its items):

  $ mt-list runs | head -1
  a/b/r  completed  PREQ_FAIL  (run-id 1, 5 records: 4 tests and items, 1 toplevel)
  $ mt-list runs --testpatt up | head -1
  a/b/r  completed  PREQ_FAIL  (run-id 1, 1 record)
  $ mt-clean --target a/b --runname r --testpatt up
  a/b/r: removed 1 record
