2xx: items and waitons. Iterated tests, dependency chains and their blocked statuses.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ t() { mkdir -p tests/$1; cat > tests/$1/testconfig; }

[items] is a cross product; [itemstable] takes the k-th value of each row (missing cells
are -):

  $ t cross <<'CFG'
  > [items]
  > A 1 2
  > B x y
  > [ezsteps]
  > s1 echo $A-$B-$MT_ITEMPATH
  > CFG
  $ t table <<'CFG'
  > [itemstable]
  > SHAPE box cone ring
  > SIZE 1 2
  > [ezsteps]
  > s1 echo $SHAPE $SIZE
  > CFG

A waiton chain where the first test fails: its waiter is PREQ_FAIL, the next one
PREQ_DISCARDED; neither runs. A mode toplevel aggregator runs anyway, last.

  $ t bad <<'CFG'
  > [ezsteps]
  > s1 false
  > CFG
  $ t blocked <<'CFG'
  > [requirements]
  > waiton bad
  > [ezsteps]
  > s1 true
  > CFG
  $ t discarded <<'CFG'
  > [requirements]
  > waiton blocked
  > [ezsteps]
  > s1 true
  > CFG
  $ t aggregate <<'CFG'
  > [requirements]
  > waiton bad blocked discarded
  > mode toplevel
  > [ezsteps]
  > s1 echo all final
  > CFG

mode itemwait: down/N waits only on up/N; up/2 fails, so only down/2 is blocked:

  $ t up <<'CFG'
  > [items]
  > N 1 2 3
  > [ezsteps]
  > s1 test $N != 2
  > CFG
  $ t down <<'CFG'
  > [requirements]
  > waiton up
  > mode itemwait
  > [items]
  > N 1 2 3
  > [ezsteps]
  > s1 echo after up/$N
  > CFG

--dry-run shows what would run and changes nothing:

  $ mt-run --target a/b --runname r --dry-run
  aggregate
  bad
  blocked
  cross/1/x
  cross/1/y
  cross/2/x
  cross/2/y
  discarded
  down/1
  down/2
  down/3
  table/box/1
  table/cone/2
  table/ring/-
  up/1
  up/2
  up/3

  $ mt-run --target a/b --runname r --quiet > out; echo "exit $?"
  exit 1
  $ tail -n +$(grep -n '^run a/b/r' out | cut -d: -f1) out
  run a/b/r: 17 tests and items in *s: 2 FAIL, 12 PASS, 1 PREQ_DISCARDED, 2 PREQ_FAIL (glob)
    COMPLETED/FAIL  bad (failed at step s1)  log: */area/lt/a/b/r/bad/s1.log (glob)
    NOT_STARTED/PREQ_FAIL  blocked (upstream bad failed)
    NOT_STARTED/PREQ_DISCARDED  discarded (upstream blocked did not run)
    NOT_STARTED/PREQ_FAIL  down/2 (upstream up/2 failed)
    COMPLETED/FAIL  up/2 (failed at step s1)  log: */area/lt/a/b/r/up/2/s1.log (glob)
  $ mt-list runs
  a/b/r  completed  PREQ_DISCARDED  (run-id 1, 21 records: 17 tests and items, 4 toplevels)
    aggregate +COMPLETED +PASS +\d+\.\ds (re)
    bad +COMPLETED +FAIL +\d+\.\ds +failed at step s1 (re)
    blocked +NOT_STARTED PREQ_FAIL +\d+\.\ds +upstream bad failed (re)
    cross +COMPLETED +PASS +\d+\.\ds (re)
    cross/1/x +COMPLETED +PASS +\d+\.\ds (re)
    cross/1/y +COMPLETED +PASS +\d+\.\ds (re)
    cross/2/x +COMPLETED +PASS +\d+\.\ds (re)
    cross/2/y +COMPLETED +PASS +\d+\.\ds (re)
    discarded +NOT_STARTED PREQ_DISCARDED +\d+\.\ds +upstream blocked did not run (re)
    down +COMPLETED +PREQ_FAIL +\d+\.\ds (re)
    down/1 +COMPLETED +PASS +\d+\.\ds (re)
    down/2 +NOT_STARTED PREQ_FAIL +\d+\.\ds +upstream up/2 failed (re)
    down/3 +COMPLETED +PASS +\d+\.\ds (re)
    table +COMPLETED +PASS +\d+\.\ds (re)
    table/box/1 +COMPLETED +PASS +\d+\.\ds (re)
    table/cone/2 +COMPLETED +PASS +\d+\.\ds (re)
    table/ring/\- +COMPLETED +PASS +\d+\.\ds (re)
    up +COMPLETED +FAIL +\d+\.\ds (re)
    up/1 +COMPLETED +PASS +\d+\.\ds (re)
    up/2 +COMPLETED +FAIL +\d+\.\ds +failed at step s1 (re)
    up/3 +COMPLETED +PASS +\d+\.\ds (re)
  $ cat lt/a/b/r/cross/2/y/s1.log lt/a/b/r/table/ring/-/s1.log
  2-y-2/y
  ring -
  $ ls lt/a/b/r
  aggregate
  bad
  cross
  down
  table
  up

A test pattern selects items; a selected test brings in what it waits on. Here
down/3 brings in up/3 only (itemwait maps item to item):

  $ mt-run --target a/b --runname r2 --testpatt down/3 --quiet > out; echo "exit $?"
  exit 0
  $ mt-list runs --runname r2
  a/b/r2  completed  PASS  (run-id 2, 4 records: 2 tests and items, 2 toplevels)
    down +COMPLETED +PASS +\d+\.\ds (re)
    down/3 +COMPLETED +PASS +\d+\.\ds (re)
    up +COMPLETED +PASS +\d+\.\ds (re)
    up/3 +COMPLETED +PASS +\d+\.\ds (re)

The toplevel record only (test/) of an iterated test selects none of its items:

  $ mt-run --target a/b --runname r3 --testpatt 'cross/,bad' --quiet > out; echo "exit $?"
  exit 1
  $ mt-list runs --runname r3
  a/b/r3  completed  FAIL  (run-id 3, 2 records)
    bad +COMPLETED +FAIL +\d+\.\ds +failed at step s1 (re)
    cross +NOT_STARTED n/a +\d+\.\ds +no item selected (re)

An [items] variable without values gives zero items; its waiters are discarded:

  $ t empty <<'CFG'
  > [items]
  > K
  > [ezsteps]
  > s1 true
  > CFG
  $ t onempty <<'CFG'
  > [requirements]
  > waiton empty
  > [ezsteps]
  > s1 true
  > CFG
  $ mt-run --target a/b --runname r4 --testpatt 'empty,onempty' --quiet > out; echo "exit $?"
  exit 1
  $ mt-list runs --runname r4
  a/b/r4  completed  PREQ_DISCARDED  (run-id 4, 2 records)
    empty +NOT_STARTED ZERO_ITEMS +\d+\.\ds +the item list is empty (re)
    onempty +NOT_STARTED PREQ_DISCARDED +\d+\.\ds +upstream empty did not run (re)
