#!/bin/sh
# measured values with tolerances; the status comes from the data (AUTO)
$MT_MEGATEST -set-values :category perf :variable speed :value 10.2 :expected 10 :tol 0.5 :units GHz
$MT_MEGATEST -set-values :category perf :variable power :value 2.9 :expected 3 :tol 0.2 :units W
$MT_MEGATEST -test-status :state COMPLETED :status AUTO
