"""Hook commands: `#{name}` and `#{escaped name}` in a hook's shell text, filled from a match.

`#{escaped name}` is the value quoted for the shell (logpro hand-quotes it with '\\'', which
/bin/sh does not read back; shlex.quote does it right). Unknown names stay as written.
"""
import re
import shlex

_PLACEHOLDER = re.compile(r"#\{(escaped\s+)?([\w-]+)\}")


def substitute(template, values):
    """TEMPLATE with each #{name} replaced by str(values[name])."""
    def fill(m):
        name = m.group(2)
        if name not in values:
            return m.group(0)
        text = "" if values[name] is None else str(values[name])
        return shlex.quote(text) if m.group(1) else text
    return _PLACEHOLDER.sub(fill, template)
