#!/bin/sh
# Runscript of the report test: writes the run's toplevel results to report.txt.
mt-list runs --area "$MT_RUN_AREA_HOME" --target "$MT_TARGET" --runname "$MT_RUNNAME" \
  --testpatt '%/' > report.txt || exit 1
cat report.txt
mt-test setlog report.txt
