405: the area's files and paths. A place mt-init cannot create, and a config include that
is not a plain file of sane size or depth, each give one line and exit 2; nothing is left
half-made and nothing hangs.

  $ export MT_TMPDIR=$CRAMTMP/db

mt-init where a parent is a file, or under /proc: one line, nothing created:

  $ touch afile
  $ mt-init area afile/sub --keys arch/os; echo "exit $?"
  mt-init: error: cannot create area afile/sub: */afile: not a directory (glob)
  exit 2
  $ ls afile
  afile
  $ mt-init area /proc/no-such/area --keys arch/os; echo "exit $?"
  mt-init: error: cannot create area /proc/no-such/area: /proc/no-such: no such file or directory
  exit 2

mt-init test where tests/ is a file:

  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ rmdir tests && touch tests
  $ mt-init test t1; echo "exit $?"
  mt-init: error: cannot create test t1: */area/tests: not a directory (glob)
  exit 2
  $ rm tests && mkdir tests && mt-init test t1 > /dev/null

An include of /dev/zero, a fifo or a directory is refused at its line, at once:

  $ cp megatest.config megatest.config.good
  $ echo '[include /dev/zero]' >> megatest.config
  $ mt-list tests; echo "exit $?"
  mt-list: error: */area/megatest.config:31: cannot read config file /dev/zero: not a regular file (glob)
  exit 2
  $ mkfifo fifo
  $ cp megatest.config.good megatest.config && echo '[include fifo]' >> megatest.config
  $ mt-list tests; echo "exit $?"
  mt-list: error: */area/megatest.config:31: cannot read config file */area/fifo: not a regular file (glob)
  exit 2

A config file over 16 MB is refused without being read:

  $ cp megatest.config.good megatest.config && echo '[include big.config]' >> megatest.config
  $ truncate -s 20M big.config
  $ mt-list tests; echo "exit $?"
  mt-list: error: */area/megatest.config:31: config file */area/big.config is too large (20.0 MB; the limit is 16 MB) (glob)
  exit 2

Includes nest at most 64 files deep; the error names the line and the chain's two ends:

  $ for i in $(seq 0 99); do echo "[include inc$((i + 1)).config]" > inc$i.config; done
  $ cp megatest.config.good megatest.config && echo '[include inc0.config]' >> megatest.config
  $ mt-list tests; echo "exit $?"
  mt-list: error: */area/inc62.config:1: includes nested more than 64 deep: */area/megatest.config -> */area/inc0.config -> */area/inc1.config -> ... -> */area/inc61.config -> */area/inc62.config -> */area/inc63.config (glob)
  exit 2
