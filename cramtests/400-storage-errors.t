400: storage and stalls. A run that cannot progress ends, naming its records; a full or
read-only live database stops mt-run with one line naming it, never a traceback, and the
same mt-run resumes the run once space returns. The mounts need root.

  $ [ "$(id -u)" = 0 ] || exit 80
  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area

A test that sets its own record back to NOT_STARTED, and a test waiting on it: nothing
runs and nothing can start, so the run ends incomplete, saying why for each record:

  $ mkdir -p tests/t1 tests/t2
  $ printf '[setup]\nrunscript main.sh\n' > tests/t1/testconfig
  $ printf '#!/bin/sh\nmt-test status NOT_STARTED n/a\n' > tests/t1/main.sh
  $ chmod +x tests/t1/main.sh
  $ printf '[requirements]\nwaiton t1\n\n[ezsteps]\ns echo hi\n' > tests/t2/testconfig
  $ mt-run --target a/b --runname stall --testpatt t1,t2 --quiet > out; echo "exit $?"
  mt-run: error: run a/b/stall stalled: nothing runs and nothing can start, yet 2 of its records cannot finish (listed below); the run ends incomplete
  exit 1
  $ cat out
  NOT_STARTED n/a      t1  (*s) (glob)
  run a/b/stall: 2 tests and items in *s: 2 n/a (glob)
    NOT_STARTED/n/a  t1 (cannot progress: NOT_STARTED/n/a again after its launch (set by its test or another writer); one mt-run launches a record once)
    NOT_STARTED/n/a  t2 (cannot progress: waits on t1, which cannot finish)
  $ mt-list runs --runname stall | head -n 1
  a/b/stall  incomplete  n/a  (run-id 1, 2 records)

The live database on a 1 MB disk, and eight tests that each record 1500 data rows: the
runner stops with one line naming the database, the tests go on and keep what the
database refuses in their journals; nothing is ABORTed or FAILed for it:

  $ for n in 0 1 2 3 4 5 6 7; do mkdir -p tests/d$n; printf '[ezsteps]\ns1 seq 1 1500 | sed "s/.*/c,v&,&/" > d.csv && mt-test data load d.csv\ns2 sleep 0.5\n' > tests/d$n/testconfig; done
  $ export MT_TMPDIR=$CRAMTMP/full
  $ mkdir $MT_TMPDIR && mount -t tmpfs -o size=1m tmpfs $MT_TMPDIR
  $ mt-run --target a/b --runname full --testpatt d% --quiet > out; echo "exit $?"
  mt-run: error: run a/b/full stopped (* still running, * not started): the live database (MT_TMPDIR=*/full) refused a write at */full/mt-*/area-*/megatest.db: database or disk is full (glob)
    try: free space there (or make it writable), then run the same mt-run again: it resumes the run and records what the tests kept in their journals
  exit 1
  $ mt-list runs --runname full | grep -c 'ABORT\|FAIL'
  0
  [1]
  $ grep -rl Traceback runs-disk/a/b/full | wc -l
  0

Space returns; the same mt-run resumes and finishes, the journals delivered:

  $ mount -o remount,size=20m $MT_TMPDIR
  $ mt-run --target a/b --runname full --testpatt d% --quiet | tail -n 1
  run a/b/full: 8 tests and items in *s: 8 PASS (glob)
  $ find runs-disk/a/b/full -name journal | wc -l
  0

A read-only live database directory: one line naming MT_TMPDIR and the place:

  $ mount -o remount,ro $MT_TMPDIR
  $ mt-run --target a/b --runname ro --testpatt d0; echo "exit $?"
  mt-run: error: cannot write the live database (MT_TMPDIR=*/full) at */full/mt-*/area-*/megatest.db.lock: Read-only file system (glob)
    try: point MT_TMPDIR (or [setup] dbdir) at a writable local directory with free space
  exit 2
  $ cd .. && umount $MT_TMPDIR
