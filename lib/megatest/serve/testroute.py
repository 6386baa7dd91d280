"""The route of a test's calls: the live database directly on the home host, else mt-serve.

Used by mt-test (on every call) and mt-exec; standard library only. Messages for the user go
to the caller's `say` callback (the command decides how to show them).
"""
import os

from megatest.launch import triggers

ROWS_PER_CALL = 2000  # data rows per call through mt-serve (its request size is limited)


def off_home(environ):
    """The home host's name when it is not this host (calls then go through mt-serve), else ""."""
    home = environ.get("MT_HOMEHOST", "")
    if not home or home == os.uname().nodename:
        return ""                       # the common case, decided without importing socket
    from megatest.store.homehost import is_home
    return "" if is_home(home) else home


class TestRecord:
    """The calling test and the route of its calls: the live db directly on the home host,
    else mt-serve (with the journal for what cannot be sent now). Both run testops' code."""

    def __init__(self, ident, environ, remote_home="", say=None):
        from megatest.testside import testops
        self.ident, self.environ, self.remote_home = ident, environ, remote_home
        self.ref = testops.test_ref(ident)
        self.max_rows = ROWS_PER_CALL if remote_home else None
        self.say = say
        self.conn, self.unopened = None, None
        if remote_home:
            from megatest.serve import rpc_client
            self.client = rpc_client.Client(ident.toppath)
        else:
            try:
                self.conn, self.db_path = testops.open_live(ident, environ)
            except (OSError, testops.db.sqlite3.Error) as err:
                self.unopened = err      # a storage refusal: each call goes to the journal
                self.db_path = testops.db.storage_path(err, ident.db_path or "the live database")

    def call(self, cmd, **params):
        """Run one call by this record's route; its outcome (handled: messages, triggers)."""
        params["test"] = self.ref
        if self.remote_home:
            return self._remote(cmd, params)
        return self._direct(cmd, params)

    def _direct(self, cmd, params):
        from megatest.testside import testops
        if self.unopened is not None:
            outcome = testops.journal_refused(self.unopened, cmd, params, self.db_path,
                                              self.ident.rundir)
        else:
            outcome = testops.execute_here(self.conn, cmd, params, self.db_path,
                                           self.ident.rundir, self.environ)
        if outcome.get("journaled"):
            self._say(outcome["note"])
        return self._handle(outcome)

    def _remote(self, cmd, params):
        from megatest.serve import rpc_client
        from megatest.testside import journal

        answers = []

        def deliver(c, p, patience):
            try:
                return self._handle(self.client.call(c, p, patience))
            except rpc_client.Unreachable as err:
                answers.append(err.answer)
                raise

        outcome, replay = journal.send_or_journal(self.rundir(), cmd, params, deliver)
        for error in replay.errors if replay else ():
            self._say(f"error: journaled {error}")
        if outcome is None:
            why = (f"({self.client.where()}): {answers[-1]}" if answers and answers[-1]
                   else f"is unreachable ({self.client.where()})")
            self._say(f"note: mt-serve {why}; "
                      f"{cmd} kept in {journal.journal_path(self.rundir())} and delivered later")
            return {"code": 0, "journaled": True}
        return outcome

    def _handle(self, outcome):
        if outcome.get("refused"):
            self._say(f"{self.label()} is {outcome['refused']}: "
                      f"{outcome['state']}/{outcome['status']} not recorded")
        elif outcome.get("fire"):
            rundir = self.ident.rundir or outcome["rundir"] or os.getcwd()
            triggers.fire(rundir, outcome["id"], outcome["state"], outcome["status"],
                          self.environ)
        return outcome

    def _say(self, text):
        if self.say:
            self.say(text)

    def close(self):
        if self.conn is not None:
            self.conn.close()
        else:
            self.client.close()

    def label(self):
        ident = self.ident
        return "/".join(p for p in (ident.target, ident.runname, ident.testname, ident.item_path) if p)

    def rundir(self):
        return self.ident.rundir or os.getcwd()


# ---------------------------------------------------------------- status
