410: the server answers every request. Wrong parameter types, numbers JSON does not have and
deep nesting get 400 with a message (the server keeps serving); --status and --stop find the
server from the area whatever the caller's MT_TMPDIR; a read-only area is one line, exit 2.
The read-only mount needs root.

  $ export MT_TMPDIR=$CRAMTMP/db
  $ mt-init area area --keys arch/os > /dev/null
  $ cd area
  $ mt-serve --ensure
  mt-serve: started (pid * at *:*) (glob)
  $ url=$(python -c "import json; i = json.load(open('.mt/server.json')); print(f\"http://{i['address']}:{i['port']}/api\")")
  $ call() { curl -s -w ' %{http_code}\n' -H "X-Megatest-Token: $(cat .mt/token)" --data-binary "$1" $url; }

An id beyond SQLite's 64-bit integers, an object where text goes, Infinity, 200,000 nested
brackets:

  $ call '{"cmd": "status", "params": {"test": {"id": 99999999999999999999999}, "state": "COMPLETED", "status": "PASS"}}'
  {"ok": false, "error": "bad params for status: expected an integer within SQLite's 64-bit range, got int 99999999999999999999999 for 'test.id'"} 400
  $ call '{"cmd": "comment", "params": {"test": {"id": 1}, "comment": {"a": 1}}}'
  {"ok": false, "error": "bad params for comment: expected text, got object for 'comment'"} 400
  $ call '{"cmd": "status", "params": {"test": {"id": Infinity}, "state": "COMPLETED", "status": "PASS"}}'
  {"ok": false, "error": "malformed JSON: Infinity is not a number JSON allows"} 400
  $ python -c "print('{\"cmd\": \"ping\", \"params\": ' + '[' * 200000 + ']' * 200000 + '}')" > deep.json
  $ call @deep.json
  {"ok": false, "error": "malformed JSON: nested deeper than 32 levels"} 400
  $ mt-serve --status | grep -c pid
  1

Another MT_TMPDIR (the live database directory, where the server's lock is) still finds
the server through .mt/server.json, and stops it:

  $ MT_TMPDIR=$CRAMTMP/elsewhere mt-serve --status | sed -n 's/^\(pid\|host\): .*/\1/p'
  host
  pid
  $ MT_TMPDIR=$CRAMTMP/elsewhere mt-serve --stop
  mt-serve: stopped
  $ mt-serve --status; echo "exit $?"
  mt-serve: no server running for */area (glob)
  exit 1

A read-only area: one line naming what cannot be written, exit 2, nothing started:

  $ [ "$(id -u)" = 0 ] || exit 80
  $ cd $CRAMTMP
  $ mt-init area ro --keys arch/os > /dev/null
  $ mount --bind ro ro && mount -o remount,bind,ro ro
  $ mt-serve --area ro --ensure; echo "exit $?"
  mt-serve: error: cannot write */ro/.mt: Read-only file system (glob)
    try: mt-serve keeps .mt/token, .mt/server.json and logs/mt-serve.log in the area: make it writable there
  exit 2
  $ mt-serve --area ro; echo "exit $?"
  mt-serve: error: cannot write */ro/.mt: Read-only file system (glob)
    try: mt-serve keeps .mt/token, .mt/server.json and logs/mt-serve.log in the area: make it writable there
  exit 2
  $ mt-serve --area ro --stop; echo "exit $?"
  mt-serve: no server running for */ro (glob)
  exit 0
  $ umount ro
