"""megatest's set-up, file and server switches: -env2file, -create-megatest-area, -create-test,
-server, -list-servers, -stop-server (mt-init and mt-serve, and megatest.sh's writer)."""
import os
import sys

from megatest.errors import UsageError

# -env2file comments these out, as Megatest does: they belong to the shell that sources it.
ENV2FILE_HIDDEN = ("USER", "HOME", "DISPLAY", "LS_COLORS", "XKEYSYMDB", "EDITOR", "MAKEFLAGS",
                   "MAKEF", "MAKEOVERRIDES")


def env2file(opts):
    """-env2file NAME: this environment as NAME.sh and NAME.csh, in megatest.sh's form."""
    from megatest.launch import rundir
    name = opts["-env2file"]
    rundir.write_env_files(os.path.dirname(name) or ".", dict(os.environ), ENV2FILE_HIDDEN,
                           name=os.path.basename(name))
    return 0


def create_area(opts):
    """-create-megatest-area: Megatest's first two questions (where, which keys), then mt-init."""
    from megatest.commands import init
    top = _ask(f"Where should the area be? (empty: {os.getcwd()})\nEnter your megatest directory: ")
    keys = _ask("Enter your keys separated by spaces or slashes (e.g. OS/RELEASE): ")
    if not keys.strip():
        raise UsageError("-create-megatest-area: no keys given")
    return init.main(["area", top or os.getcwd(), "--keys", "/".join(keys.replace("/", " ").split())])


def _ask(prompt):
    sys.stdout.write(prompt)
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not sys.stdin.isatty():
        sys.stdout.write(answer if answer.endswith("\n") else answer + "\n")   # answers piped in
    return answer.strip()


def create_test(opts):
    from megatest.commands import init
    return init.main(["test", opts["-create-test"]])


def server(opts):
    """-server - (or HOST): mt-serve in the foreground, listening on HOST when given."""
    from megatest.commands import serve
    host = opts["-server"]
    return serve.main([] if host == "-" else ["--bind", host])


def servers(opts):
    """-list-servers: mt-serve --status (no server is not an error for a listing);
    -stop-server, -kill-servers: mt-serve --stop."""
    from megatest.commands import serve
    if "-list-servers" in opts:
        serve.main(["--status"])
    if "-stop-server" in opts or "-kill-servers" in opts:
        return serve.main(["--stop"])
    return 0
