"""Load a rule file into a RuleSet: logpro's forms (expect:*, trigger, section, hook:add, load).

A form logpro does not have is an error naming FILE:LINE, never silently skipped: a typo in
an expect must not turn into a rule that never fires. Where logpro itself is lenient (an
unknown keyword argument is ignored by CHICKEN), loading goes on and a warning says so.
"""
import os
import time

from megatest.errors import MtError
from megatest.logpro import model, reader, rx, scheme
from megatest.logpro.model import Origin, is_number
from megatest.logpro.reader import Keyword, RegexLiteral, Symbol
from megatest.logpro.scheme import Builtin, SpecialForm, display, need, show

EXPECT_KEYWORDS = frozenset({"expires", "type", "hook", "class"})
VALUE_KEYWORDS = EXPECT_KEYWORDS | {"matchnum"}
WHERE_SUPPORTED = ("in", "not-in")
WHERE_UNSUPPORTED = ("before", "after")       # logpro accepts them but never applies them
IGNORED_FORMS = ("use", "require-extension", "import", "trace")
OLD_HOOK_FORMS = ("hook:first-error", "hook:first-warning", "hook:value")
EXPIRES_FORMAT = "%m/%d/%Y"


def load_rules(path, waiver=None, now=None, environ=None):
    """The RuleSet of PATH, after WAIVER when given (its rules come first, so they win a line).

    MtError (with file and line) when a file cannot be read or a form is malformed.
    """
    builder = _Builder(time.time() if now is None else now,
                       os.environ if environ is None else environ)
    if waiver is not None:
        if os.path.isfile(waiver) and os.access(waiver, os.R_OK):
            builder.load_file(waiver)
        else:
            builder.warn(Origin(waiver, 0), "waiver file not found or not readable; not used")
    builder.load_file(path)
    builder.check_references()
    return builder.ruleset


class _Builder:
    """State of one load: the RuleSet being filled, the next rule number, the files being read."""

    def __init__(self, now, environ):
        self.now, self.environ = now, environ
        self.ruleset = model.RuleSet()
        self.next_num = 0
        self.loading = []
        everything = Origin("<logpro>", 0)
        any_line = rx.compile_pattern(".*")
        self.ruleset.triggers.append(model.Trigger(model.DEFAULT_TRIGGER, (any_line,), everything))
        self.ruleset.sections.append(model.Section(model.DEFAULT_SECTION, model.DEFAULT_TRIGGER,
                                                   model.DEFAULT_SECTION_END, everything))
        self.interp = scheme.Interpreter(self._globals(), unknown_hint=_unknown_hint)

    def warn(self, origin, message):
        where = f"{origin.path}:{origin.line}: " if origin.line else f"{origin.path}: "
        self.ruleset.warnings.append(where + message)

    # -- files --------------------------------------------------------------------------------

    def load_file(self, path, where=None):
        real = os.path.realpath(path)
        if real in self.loading:
            raise MtError(f"load cycle: {path} is already being loaded", *(where or (path, None)))
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", errors="replace")
        except OSError as err:
            raise MtError(f"cannot read rules file: {err.strerror}",
                          *(where or (path, None))) from None
        data = reader.read_all(text, path)
        self.loading.append(real)
        try:
            self.interp.run(data, path)
        finally:
            self.loading.pop()

    def check_references(self):
        """Warn about names that are used but never defined: such rules can never fire."""
        rs = self.ruleset
        sections = {s.name for s in rs.sections}
        triggers = {t.name for t in rs.triggers}
        seen = set()
        for rule in rs.rules:
            if rule.section not in sections and rule.section not in seen:
                seen.add(rule.section)
                self.warn(rule.origin, f'section "{rule.section}" is never defined; '
                                       "rules in it never match")
            if rule.hook is not None and rule.hook not in rs.hooks:
                self.warn(rule.origin, f'hook "{rule.hook}" is never defined (hook:add)')
        for section in rs.sections:
            if section.start not in triggers:
                self.warn(section.origin, f'section "{section.name}": start trigger '
                                          f'"{section.start}" is never defined')

    # -- the global environment ---------------------------------------------------------------

    def _globals(self):
        base = scheme.base_env()
        for name in WHERE_SUPPORTED + WHERE_UNSUPPORTED:
            base.define(Symbol(name), Symbol(name))
        base.define(Symbol("logfile"), model.DEFAULT_SECTION)
        for sym, comparator in model.COMPARATORS.items():
            base.define(Symbol(sym), comparator)
        procedures = {
            "expect": self._expect(None),
            "expect:value": self._expect_value,
            "trigger": self._trigger("trigger", fixed_limit=1, required=True),
            "trigger-with-limit": self._trigger("trigger-with-limit", None, required=True),
            "trigger:non-required": self._trigger("trigger:non-required", 1, required=False),
            "section": self._section,
            "hook:add": self._hook_add,
            "load": self._load,
            "print": self._print,
            "regexp": _regexp,
            "get-environment-variable": self._getenv,
            "getenv": self._getenv,
        }
        for kind in model.KINDS:
            if kind != "value":
                procedures["expect:" + kind] = self._expect(kind)
        for alias, kind in model.KIND_ALIASES.items():
            procedures["expect:" + alias] = self._expect(kind)
        for name in OLD_HOOK_FORMS:
            procedures[name] = self._old_hook
        for name, fn in procedures.items():
            base.define(Symbol(name), Builtin(name, fn))
        for name in IGNORED_FORMS:
            base.define(Symbol(name), SpecialForm(name, self._ignored))
        return scheme.Env(base)

    # -- expects ------------------------------------------------------------------------------

    def _expect(self, kind):
        form = "expect" if kind is None else f"expect:{kind}"

        def fn(interp, args, where):
            pos, kw = self._split(form, args, where, EXPECT_KEYWORDS, 6)
            comparator = pos[2]
            need(isinstance(comparator, model.Comparator),
                 f"{form}: third argument must be one of = < > <= >=, got {show(comparator)}",
                 where)
            fields = self._common(form, pos, kw, where, kind or "error")
            fields.update(comparator=comparator, expected=_number(form, "count", pos[3], where))
            self._add_rules(fields, kw, where)
        return fn

    def _expect_value(self, interp, args, where):
        form = "expect:value"
        pos, kw = self._split(form, args, where, VALUE_KEYWORDS, 6)
        tol = pos[3]
        need(isinstance(tol, model.Comparator) or is_number(tol),
              f"{form}: tolerance must be a number or one of < > <= >= =, got {show(tol)}", where)
        matchnum = kw.get("matchnum", 1)
        need(isinstance(matchnum, int) and not isinstance(matchnum, bool) and matchnum >= 0,
              f"{form}: matchnum must be a group number (0 or more), got {show(matchnum)}", where)
        fields = self._common(form, pos, kw, where, "value")
        fields.update(expected=_number(form, "expected value", pos[2], where), tol=tol,
                      matchnum=matchnum)
        self._add_rules(fields, kw, where)

    def _split(self, form, args, where, allowed, count):
        """(positional args, {keyword: value}) of a call; unknown keywords warned and dropped."""
        pos, kw, i = [], {}, 0
        while i < len(args) and not isinstance(args[i], Keyword):
            pos.append(args[i])
            i += 1
        while i < len(args):
            key = args[i]
            need(isinstance(key, Keyword), f"{form}: {show(key)} after the keyword arguments",
                  where)
            need(i + 1 < len(args), f"{form}: keyword {key}: has no value", where)
            if key in allowed:
                kw[str(key)] = args[i + 1]
            else:
                self.warn(Origin(where[0], where[1]),
                          f"{form}: unknown keyword {key}: ignored"
                          + (" -- did you mean matchnum:?" if key == "match" else ""))
            i += 2
        need(len(pos) >= count, f"{form}: needs {count} arguments before any keyword, "
                                 f"got {len(pos)}", where)
        return pos, kw

    def _common(self, form, pos, kw, where, kind):
        """The fields every expect shares: where, sections, description, regexes, kind, hook."""
        where_op = pos[0]
        need(not (isinstance(where_op, Symbol) and where_op in WHERE_UNSUPPORTED),
              f"{form}: '{where_op}' is not applied by logpro; use in or not-in", where)
        need(isinstance(where_op, Symbol) and where_op in WHERE_SUPPORTED,
              f"{form}: first argument must be in or not-in, got {show(where_op)}", where)
        desc = pos[4]
        need(_is_string(desc), f"{form}: description must be a string, got {show(desc)}", where)
        if "type" in kw:
            kind = _kind(form, kw["type"], where)
        hook = kw.get("hook")
        need(hook is None or _is_string(hook), f"{form}: hook: must be a hook name string", where)
        patterns = _patterns(form, pos[5:], where)
        return dict(kind=kind, where=str(where_op), sections=_sections(form, pos[1], where),
                    desc=desc, patterns=patterns, hook=hook)

    def _add_rules(self, fields, kw, where):
        num, self.next_num = self.next_num, self.next_num + 1
        origin = Origin(where[0], where[1])
        if self._expired(kw.get("expires"), origin, fields):
            return
        sections = fields.pop("sections")
        for section in sections:
            self.ruleset.rules.append(model.Rule(num=num, section=section, origin=origin, **fields))

    def _expired(self, expires, origin, fields):
        """True when EXPIRES (MM/DD/YYYY) has passed: logpro then drops the rule entirely."""
        if expires is None or expires is False:
            return False
        need(_is_string(expires), f"expires: must be a date string MM/DD/YYYY, got "
                                   f"{show(expires)}", (origin.path, origin.line))
        try:
            deadline = time.mktime(time.strptime(expires.strip(), EXPIRES_FORMAT))
        except ValueError:
            self.warn(origin, f'cannot read expires date "{expires}" (MM/DD/YYYY); '
                              "the rule applies")
            return False
        if deadline > self.now:
            return False
        self.ruleset.output.append(f'LOGPRO: rule at {origin} ({fields["kind"]} '
                                   f'"{fields["desc"]}") expired {expires}; not applied')
        return True

    # -- triggers, sections, hooks ------------------------------------------------------------

    def _trigger(self, form, fixed_limit, required):
        def fn(interp, args, where):
            need(args and _is_string(args[0]), f"{form}: first argument must be the trigger "
                                                "name (a string)", where)
            rest, limit = args[1:], fixed_limit
            if fixed_limit is None:
                need(rest and isinstance(rest[0], int) and not isinstance(rest[0], bool)
                      and rest[0] >= 0, f"{form}: second argument must be the hit limit "
                                        "(a whole number)", where)
                limit, rest = rest[0], rest[1:]
            origin = Origin(where[0], where[1])
            patterns = _patterns(form, rest, where, allow_none=True)
            if not patterns:
                self.warn(origin, f'{form} "{args[0]}" has no regex; it never fires')
            self.ruleset.triggers.append(model.Trigger(args[0], patterns, origin, limit, required))
        return fn

    def _section(self, interp, args, where):
        pos, _ = self._split("section", args, where, frozenset(), 3)
        need(len(pos) == 3 and all(_is_string(a) for a in pos),
              "section takes a name, a start trigger name and an end trigger name (strings)",
              where)
        self.ruleset.sections.append(model.Section(pos[0], pos[1], pos[2],
                                                   Origin(where[0], where[1])))

    def _hook_add(self, interp, args, where):
        pos, kw = self._split("hook:add", args, where, frozenset({"one-time"}), 2)
        need(len(pos) == 2 and _is_string(pos[0]) and _is_string(pos[1]),
              "hook:add takes a hook name and a shell command (strings)", where)
        one_time = kw.get("one-time", False) is not False
        self.ruleset.hooks[pos[0]] = model.Hook(pos[0], pos[1], one_time)

    def _old_hook(self, interp, args, where):
        self.warn(Origin(where[0], where[1]), "this hook form is not in logpro 1.19 "
                                              "(use hook:add and hook:); ignored")

    def _ignored(self, interp, form, env, where):
        self.warn(Origin(where[0], where[1]), f"({form[0]} ...) is CHICKEN-specific; ignored")

    # -- other procedures ---------------------------------------------------------------------

    def _load(self, interp, args, where):
        need(len(args) == 1 and _is_string(args[0]), "load takes one file name", where)
        # Relative to the file doing the load: in a Megatest run directory that is also the
        # current directory (where logpro looks), and elsewhere it still finds the neighbour.
        path = os.path.join(os.path.dirname(where[0]), os.path.expanduser(args[0]))
        self.load_file(path, (where[0], where[1]))

    def _print(self, interp, args, where):
        self.ruleset.output.append("".join(display(a) for a in args))

    def _getenv(self, interp, args, where):
        need(len(args) == 1 and _is_string(args[0]), "getenv takes one variable name", where)
        return self.environ.get(args[0], False)


# -- argument checks ----------------------------------------------------------------------------

def _is_string(value):
    return isinstance(value, str) and not isinstance(value, (Symbol, Keyword))


def _number(form, what, value, where):
    need(is_number(value), f"{form}: {what} must be a number, got {show(value)}", where)
    return value


def _kind(form, value, where):
    name = str(value) if isinstance(value, str) else None
    name = model.KIND_ALIASES.get(name, name)
    need(name in model.KINDS, f"{form}: type: must be one of {', '.join(model.KINDS)}, "
                               f"got {show(value)}", where)
    return name


def _sections(form, value, where):
    names = value if isinstance(value, list) else [value]
    need(names and all(_is_string(n) for n in names),
          f"{form}: section must be a string or a list of strings, got {show(value)}", where)
    return names


def _patterns(form, values, where, allow_none=False):
    """Compiled patterns from regex literals, (regexp ...) results, strings or lists of them."""
    out = []
    for value in values:
        if isinstance(value, list):
            out.extend(_patterns(form, value, where, allow_none=True))
        elif isinstance(value, rx.Pattern):
            out.append(value)
        elif isinstance(value, RegexLiteral):
            out.append(rx.compile_pattern(value.source, value.flags, where[0], value.line))
        elif _is_string(value):
            out.append(rx.compile_pattern(value, "", where[0], where[1]))
        else:
            raise MtError(f"{form}: expected a regex, got {show(value)}", where[0], where[1])
    need(out or allow_none, f"{form}: needs at least one regex", where)
    return tuple(out)


def _regexp(interp, args, where):
    need(1 <= len(args) <= 4 and _is_string(args[0]),
          "regexp takes a pattern string and optional caseless, extended, utf8 flags", where)
    flags = "".join(flag for flag, arg in zip("ixu", args[1:]) if arg is not False)
    return rx.compile_pattern(args[0], flags, where[0], where[1])


def _unknown_hint(name):
    if name == "define-section":
        return (" -- logpro has no define-section; write (trigger \"START\" #/regex/), "
                "(trigger \"END\" #/regex/) and (section \"NAME\" \"START\" \"END\")")
    if name.startswith("expect"):
        kinds = ", ".join("expect:" + k for k in model.KINDS)
        return f" -- logpro knows {kinds}"
    return ""
