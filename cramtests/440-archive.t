4xx: archiving (issue 11 §5). mt-clean --archive moves a finished run's directories into
one compressed file and keeps its records; --restore brings them back; [archive]
keep-runs keeps the newest runs of each target, for cron.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ mt-init test build --steps "s echo built > result.txt" > /dev/null
  $ mt-init test unit --waiton build --items "SIZE small big" > /dev/null
  $ mt-run --target a/b --runname r1 --quiet > /dev/null; echo "exit $?"
  exit 0
  $ mkdir ../archive

An archive per run; the records stay with their results, the directories go:

  $ mt-clean --archive ../archive --target a/b --runname r1
  a/b/r1: archived 4 records (2 directories, * KiB) in */archive/area-*__a_b__r1__1.tar.gz (glob)
  $ mt-list runs | head -2
  a/b/r1  completed  PASS  (run-id 1, 4 records: 3 tests and items, 1 toplevel, archived in */archive/area-*__a_b__r1__1.tar.gz) (glob)
    build                 COMPLETED   PASS             *s (glob)
  $ ls runs-disk/a/b/r1 lt/a/b/r1
  lt/a/b/r1:
  
  runs-disk/a/b/r1:
  $ tar tzf ../archive/*.tar.gz | grep result.txt
  a/b/r1/build/result.txt
  $ mt-clean --archive ../archive --target a/b --runname r1
  a/b/r1: already archived in */archive/area-*__a_b__r1__1.tar.gz, skipped (glob)

Restore puts every directory and link back; the archive is kept:

  $ mt-clean --restore --target a/b --runname r1
  a/b/r1: restored 4 records (2 directories) from */archive/area-*__a_b__r1__1.tar.gz; the archive is kept (glob)
  $ cat lt/a/b/r1/build/result.txt
  built
  $ mt-list runs --json | grep '"archived"'
    "archived": "",

It never writes over a directory that is not empty:

  $ mt-clean --archive ../archive --target a/b --runname r1 > /dev/null
  $ mkdir -p runs-disk/a/b/r1/build && touch runs-disk/a/b/r1/build/mine
  $ mt-clean --restore --target a/b --runname r1; echo "exit $?"
  mt-clean: error: a/b/r1: not restored: */runs-disk/a/b/r1/build exists and is not empty (move it aside, then restore again) (glob)
  exit 1
  $ rm runs-disk/a/b/r1/build/mine
  $ mt-clean --restore --target a/b --runname r1 > /dev/null; echo "exit $?"
  exit 0

Bad input is one line; nothing is touched:

  $ mt-clean --archive ../nowhere --target a/b --runname r1; echo "exit $?"
  mt-clean: error: archive directory ../nowhere does not exist
    try: mkdir -p ../nowhere
  exit 2
  $ mt-clean --archive ../archive --target a/b --runname nosuch; echo "exit $?"
  mt-clean: no run matches --target a/b --runname nosuch
  exit 0
  $ mt-clean --archive ../archive --keep-runs; echo "exit $?"
  mt-clean: error: */area/megatest.config: --keep-runs needs `keep-runs N` in an [archive] section (glob)
    try: add the lines `[archive]` and `keep-runs 10`
  exit 2

keep-runs N archives all but the newest N runs of each target; runs already archived are
passed over in silence, so it suits a cron line:

  $ printf '[archive]\nkeep-runs 1\n' >> megatest.config
  $ mt-run --target a/b --runname r2 --quiet > /dev/null
  $ mt-run --target c/d --runname r1 --quiet > /dev/null
  $ mt-clean --archive ../archive --keep-runs
  a/b/r1: archived 4 records (2 directories, * KiB) in */archive/area-*__a_b__r1__1-3.tar.gz (glob)
  $ mt-clean --archive ../archive --keep-runs
  mt-clean: nothing to archive: [archive] keep-runs 1 keeps the newest 1 run of each target
