#!/bin/sh
# a runscript in the style of Megatest's fullrun: it reports its own steps and status
$MT_MEGATEST -step prepare :state start :status n/a
echo alpha > input.txt; echo beta >> input.txt
$MT_MEGATEST -step prepare :state end :status 0
$MT_MEGATEST -runstep count "grep -c a input.txt" -logpro count.logpro || exit 1
$MT_MEGATEST -setlog count.html
$MT_MEGATEST -test-status :state COMPLETED :status PASS -m "all steps done"
