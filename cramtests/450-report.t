Reports people act on: a nightly run, the next night, and what changed between them.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ mkdir -p tests/alu tests/fpu tests/mem
  $ cat > tests/alu/testconfig <<'CFG'
  > [ezsteps]
  > sim test $MT_RUNNAME = mon || { echo "Error: alu mismatch at 0x1f in /rtl/alu.v"; exit 1; }
  > CFG
  $ cat > tests/fpu/testconfig <<'CFG'
  > [ezsteps]
  > sim test $MT_RUNNAME = tue || { echo "Error: fpu hang after 1200 cycles"; exit 1; }
  > CFG
  $ printf '[ezsteps]\nsim echo ok\n' > tests/mem/testconfig
  $ mt-run --target a/b --runname mon --quiet > /dev/null; echo "exit $?"
  exit 1
  $ mt-run --target a/b --runname tue --quiet > /dev/null; echo "exit $?"
  exit 1

The diff compares the newest run with the one before it; a new failure makes it exit 1,
and each failure says where its log is and how to run it again:

  $ mt-report diff; echo "exit $?"
  a/b/tue against a/b/mon: 1 new failure, 1 fixed (1 unchanged)
    new failure     alu  FAIL (was PASS)
        log: */lt/a/b/tue/alu/sim.log (glob)
        reproduce: mt-run --target a/b --runname tue --testpatt alu --rerun-all
    fixed           fpu  PASS (was FAIL)
  exit 1

JUnit XML for the CI system, and a report directory that needs no network:

  $ mt-report junit --runname tue -o tue.xml
  mt-report: wrote tue.xml (1 run, 3 tests, 1 failure)
  $ grep -c '<testcase' tue.xml
  3
  $ grep -o 'reproduce: .*' tue.xml
  reproduce: mt-run --target a/b --runname tue --testpatt alu --rerun-all
  $ mt-report html --runname tue -o rep
  mt-report: wrote rep/index.html (1 run, 3 tests, 1 failure)
  $ grep -c 'https\?://' rep/index.html
  0
  [1]

Each test across the nights, and the failures by signature:

  $ mt-list history
  a/b: mon tue (oldest first)
    alu  [PF]  failing for 1 run since tue, last passed in mon
    fpu  [FP]  PASS
    mem  [PP]  PASS
    (P pass, F fail, E error, f flaky, W waived, S skip, R running, . not run)
  $ mt-list failures | head -3
     1  Error: alu mismatch at <hex> in <path>
        e.g. Error: alu mismatch at 0x1f in /rtl/alu.v
        a/b/tue  alu  FAIL
