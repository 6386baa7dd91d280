"""How a test starts: directly (the default), through a command template, or a scheduler.

Megatest's semantics: `[jobtools] launcher` is a command prefixed to the command that runs
the test; with `[jobtools] flexi-launcher yes`, the first `[launchers]` pattern matching
`test/itempath` names a `[host-types]` entry whose value is the prefix. A prefix whose first
word is `sbatch` (or the word `slurm`) submits through Slurm, `bsub` (or `lsf`) through LSF;
anything else (ssh host, nbfake, env ...) is run as a command: the test's wrapper,
`mt-exec RUNDIR`, is appended. Placeholders in a template: %RUNDIR% %TEST% %ITEMPATH%
%RUNID% %TESTID% %TARGET% %RUNNAME% (substituted, shell-quoted).
"""
import shlex
from dataclasses import dataclass

KINDS = ("direct", "template", "slurm", "lsf")


@dataclass(frozen=True)
class Choice:
    kind: str                       # one of KINDS
    words: tuple = ()               # the template's words (for slurm/lsf: extra options)
    name: str = ""                  # host type name, for messages

    @property
    def remote(self):
        return self.kind != "direct"


DIRECT = Choice("direct")


def parse_template(text, name=""):
    """A launcher value -> Choice."""
    words = tuple(shlex.split(text or ""))
    if not words:
        return DIRECT
    head = words[0]
    if head in ("slurm", "sbatch"):
        return Choice("slurm", words[1:], name)
    if head in ("lsf", "bsub"):
        return Choice("lsf", words[1:], name)
    return Choice("template", words, name)


def choose(config, testname, item_path, warn=None):
    """The launcher of one record, by Megatest's rules (first [launchers] match wins)."""
    from megatest.config.patterns import match_testpatt
    flexi = (config.get("jobtools", "flexi-launcher") or "").strip().lower() in ("yes", "y", "true", "1")
    if flexi:
        host_types = config.section("host-types")
        for pattern, host_type in config.section("launchers").items():
            if not match_testpatt(pattern, testname, item_path):
                continue
            host_type = host_type.strip()
            if host_type not in host_types:
                if warn:
                    path, line = config.location("launchers", pattern)
                    warn(f"{path}:{line}: warning: unknown host type {host_type!r} in [launchers]")
                continue
            return parse_template(host_types[host_type], host_type)
    return parse_template(config.get("jobtools", "launcher", "") or "", "launcher")


def substitute(words, values):
    """Fill %NAME% placeholders (values shell-quoted when the words go through a shell)."""
    out = []
    for word in words:
        for key, value in values.items():
            word = word.replace(f"%{key}%", value)
        out.append(word)
    return out
