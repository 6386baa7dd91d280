3xx: logpro, the log checker. A rule file says what a step's log must and must not
contain; logpro reads the log on stdin, prints it annotated, writes NAME.html and NAME.dat,
and its exit code is the verdict.

  $ cat > build.logpro <<'RULES'
  > ;; false alarms first: the first rule that matches a line counts it
  > (expect:ignore   in "LogFileBody" >= 0 "error in a file name" #/error\.[ch]/)
  > (expect:required in "LogFileBody" > 0  "the link ran"         #/^linking/)
  > (expect:warning  in "LogFileBody" = 0  "no warnings"          #/warning/i)
  > (expect:error    in "LogFileBody" = 0  "no errors"            #/error/i)
  > RULES
  $ printf 'compiling error.c\nlinking app\n' > good.log
  $ logpro build.logpro build.html < good.log > /dev/null; echo "exit $?"
  exit 0

A warning gives exit 2 (WARN). The annotated log says which rule counted which line:

  $ printf 'compiling main.c\nWarning: old API\nlinking app\n' | logpro build.logpro build.html
  LOGPRO: hit trigger LogFileBodyStart on line 1
  compiling main.c
  LOGPRO Warning: no warnings = 0 in section LogFileBody on line 2
  Warning: old API
  LOGPRO Required: the link ran > 0 in section LogFileBody on line 3
  linking app
  ==========================LOGPRO SUMMARY==========================
  Trigger: LogFileBodyStart OK, count=1
  
  Expects for LogFileBody section:
  Expect: rule-0 Ignore in LogFileBody OK, expected >= 0 of "error in a file name", got 0, rx=/error\.[ch]/
  Expect: rule-1 Required in LogFileBody OK, expected > 0 of "the link ran", got 1, rx=/^linking/
  Expect: rule-2 Warning in LogFileBody FAIL, expected = 0 of "no warnings", got 1, rx=/warning/i
  Expect: rule-3 Error in LogFileBody OK, expected = 0 of "no errors", got 0, rx=/error/i
  
  LOGPRO EXIT CODE: 2 (WARN): warning: no warnings
  [2]

An error, or a missing required line, gives exit 1 (FAIL). build.dat is the test data
Megatest loads; its message names the rule that decided:

  $ printf 'ERROR: out of memory\n' | logpro build.logpro build.html > /dev/null; echo "exit $?"
  exit 1
  $ cat build.dat
  [final]
  exit-code 1
  exit-status FAIL
  message required: the link ran
  $ grep -o 'EXIT CODE: 1 (FAIL)' build.html
  EXIT CODE: 1 (FAIL)

A malformed rule file is an error naming the file and line, and exit 5 (ABORT), so a
broken checker never passes a test:

  $ printf '(expect:error in "LogFileBody" = 0 "no errors" #/error/i)\n(define-section "x")\n' > bad.logpro
  $ logpro bad.logpro bad.html < good.log; echo "exit $?"
  logpro: error: bad.logpro:2: unknown form (define-section ...) -- logpro has no define-section; write (trigger "START" #/regex/), (trigger "END" #/regex/) and (section "NAME" "START" "END")
  exit 5
