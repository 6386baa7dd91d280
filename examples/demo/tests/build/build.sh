#!/bin/bash
# Runscript of the build test: makes ./calc, and reports steps and data through mt-test.
# Its exit code gives the status (0 PASS, 1 FAIL, 2 WARN ...).
set -e

mt-test step compile start
sleep 0.3
cat > calc <<'CALC'
#!/bin/sh
# calc OP N: the tiny tool built by the demo's build test.
case "$1" in
  add) echo $(( $2 + $2 )) ;;
  mul) echo $(( $2 * $2 )) ;;
  vol) echo $(( $2 * $2 * $2 )) ;;
  *) echo "calc: unknown op $1" >&2; exit 2 ;;
esac
CALC
chmod +x calc
echo "$GREETING: built calc with $CFLAGS for a $WORDSIZE-bit $arch"
mt-test step compile end --status 0 --logfile runscript.log

# A step run and recorded by mt-test: output in selftest.log, rows (selftest, start/end).
mt-test runstep selftest ./calc add 21

# Measurements: each row gets pass/fail from value, expected and tolerance.
mt-test data set build wordsize "$WORDSIZE" --expected 32 --tol '>='
mt-test data set build size "$(wc -c < calc)" --expected 250 --tol 200 --units bytes
