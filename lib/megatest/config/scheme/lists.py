"""Pairs, lists, equality and the procedures that call procedures (map, filter, sort, apply)."""
from megatest.config.scheme.checks import expected, index_arg, list_arg, procedure_arg
from megatest.config.scheme.data import NIL, UNSPECIFIED, Pair, Procedure, eqv, list_items, make_list, registrar
from megatest.config.scheme.errors import ProcError
from megatest.config.scheme.numeric import add, multiply

PROCEDURES = {}
procedure = registrar(PROCEDURES)


def equal(rt, a, b):
    """equal?: the same shape with eqv? leaves and equal strings. Every comparison costs a
    step (and strings their length), so delete-duplicates on a long list cannot run unpaid."""
    todo = [(a, b)]
    while todo:
        x, y = todo.pop()
        rt.charge()
        if isinstance(x, Pair) and isinstance(y, Pair):
            todo.append((x.cdr, y.cdr))
            todo.append((x.car, y.car))
        elif isinstance(x, str) and isinstance(y, str):
            rt.charge_text(min(len(x), len(y)))
            if x != y:
                return False
        elif not eqv(x, y):
            return False
    return True


@procedure("cons", 2)
def cons(rt, a, b):
    return Pair(a, b)


def _cxr(path):
    """car, cdr, cadr ...: PATH is the a/d letters, applied right to left."""
    def cxr(rt, value):
        result = value
        for letter in reversed(path):
            if not isinstance(result, Pair):
                raise expected("a pair" if result is value else f"a list fit for c{path}r", value)
            result = result.car if letter == "a" else result.cdr
        return result
    return cxr


for _path in ("a", "d", "aa", "ad", "da", "dd", "add", "ddd", "addd", "dda", "ada"):
    procedure(f"c{_path}r", 1)(_cxr(_path))
PROCEDURES["first"], PROCEDURES["second"], PROCEDURES["third"] = (
    PROCEDURES["car"], PROCEDURES["cadr"], PROCEDURES["caddr"])


@procedure("list", 0, None)
def list_(rt, *items):
    return make_list(items)


@procedure("make-list", 1, 2)
def make_list_(rt, count, fill=UNSPECIFIED):
    rt.charge(index_arg(count))
    return make_list([fill] * count)


@procedure("iota", 1, 3)
def iota(rt, count, start=0, step=1):
    rt.charge(index_arg(count))
    return make_list([add(rt, start, multiply(rt, index, step)) for index in range(count)])


@procedure("length", 1)
def length(rt, items):
    return len(list_arg(rt, items))


@procedure("append", 0, None)
def append(rt, *lists):
    if not lists:
        return NIL
    result = lists[-1]
    for items in reversed(lists[:-1]):
        result = make_list(list_arg(rt, items), result)
    return result


@procedure("reverse", 1)
def reverse(rt, items):
    return make_list(list_arg(rt, items)[::-1])


def _drop(rt, items, count):
    """The list after COUNT cdrs, paying a step for each."""
    rt.charge(index_arg(count))
    for _ in range(count):
        if not isinstance(items, Pair):
            raise ProcError(f"index {count} is past the end of the list")
        items = items.cdr
    return items


@procedure("list-tail", 2)
def list_tail(rt, items, count):
    return _drop(rt, items, count)


@procedure("list-ref", 2)
def list_ref(rt, items, index):
    rest = _drop(rt, items, index)
    if not isinstance(rest, Pair):
        raise ProcError(f"index {index} is past the end of the list")
    return rest.car


@procedure("last", 1)
def last(rt, items):
    values = list_arg(rt, items)
    if not values:
        raise expected("a non-empty list", items)
    return values[-1]


def _search(rt, items, found):
    """The first tail of ITEMS whose car satisfies FOUND, or #f."""
    while isinstance(items, Pair):
        rt.charge()
        if found(items.car):
            return items
        items = items.cdr
    if items is not NIL:
        raise expected("a proper list", items)
    return False


def _member(same):
    def member(rt, value, items):
        return _search(rt, items, lambda item: same(rt, value, item))
    return member


def _assoc(same):
    def assoc(rt, key, alist):
        def found(entry):
            if not isinstance(entry, Pair):
                raise expected("a list of pairs", entry)
            return same(rt, key, entry.car)
        tail = _search(rt, alist, found)
        return tail if tail is False else tail.car
    return assoc


def _eqv(rt, a, b):
    return eqv(a, b)


for _suffix, _same in (("q", _eqv), ("v", _eqv), ("ber", equal)):
    procedure(f"mem{_suffix}", 2)(_member(_same))
for _name, _same in (("assq", _eqv), ("assv", _eqv), ("assoc", equal)):
    procedure(_name, 2)(_assoc(_same))


@procedure("delete", 2)
def delete(rt, value, items):
    return make_list([item for item in list_arg(rt, items) if not equal(rt, value, item)])


@procedure("delete-duplicates", 1)
def delete_duplicates(rt, items):
    kept = []
    for item in list_arg(rt, items):
        if not any(equal(rt, item, seen) for seen in kept):
            kept.append(item)
    return make_list(kept)


def _type_test(test):
    def predicate(rt, value):
        return test(value)
    return predicate


for _name, _test in (("null?", lambda v: v is NIL), ("pair?", lambda v: isinstance(v, Pair)),
                     ("boolean?", lambda v: isinstance(v, bool)), ("not", lambda v: v is False),
                     ("procedure?", lambda v: isinstance(v, Procedure))):
    procedure(_name, 1)(_type_test(_test))


@procedure("list?", 1)
def is_list(rt, value):
    items = list_items(value)
    rt.charge(len(items) if items else 0)
    return items is not None


@procedure("eq?", 2)
def is_eq(rt, a, b):
    return eqv(a, b)


PROCEDURES["eqv?"] = PROCEDURES["eq?"]


@procedure("equal?", 2)
def is_equal(rt, a, b):
    return equal(rt, a, b)


@procedure("apply", 2, None, calls=True)
def apply(rt, proc, *args):
    result = yield procedure_arg(proc), list(args[:-1]) + list_arg(rt, args[-1])
    return result


def _columns(rt, proc, lists):
    """Argument lists for a map over several lists, as long as the shortest (SRFI-1)."""
    procedure_arg(proc)
    columns = [list_arg(rt, items) for items in lists]
    return [[column[index] for column in columns] for index in range(min(map(len, columns)))]


@procedure("map", 2, None, calls=True)
def map_(rt, proc, *lists):
    results = []
    for args in _columns(rt, proc, lists):
        results.append((yield proc, args))
    return make_list(results)


@procedure("for-each", 2, None, calls=True)
def for_each(rt, proc, *lists):
    for args in _columns(rt, proc, lists):
        yield proc, args
    return UNSPECIFIED


def _keep(wanted):
    def keep(rt, proc, items):
        kept = []
        for item in list_arg(rt, items):
            if ((yield procedure_arg(proc), [item]) is not False) == wanted:
                kept.append(item)
        return make_list(kept)
    return keep


procedure("filter", 2, calls=True)(_keep(True))
procedure("remove", 2, calls=True)(_keep(False))


@procedure("fold", 3, calls=True)
def fold(rt, proc, start, items):
    result = start
    for item in list_arg(rt, items):
        result = yield procedure_arg(proc), [item, result]
    return result


@procedure("sort", 2, calls=True)
def sort(rt, items, less):
    """CHICKEN's (sort LIST LESS?): a stable merge sort, asking LESS? through the machine."""
    procedure_arg(less)
    runs = [[item] for item in list_arg(rt, items)]
    while len(runs) > 1:
        merged = []
        for index in range(0, len(runs) - 1, 2):
            merged.append((yield from _merge(runs[index], runs[index + 1], less)))
        if len(runs) % 2:
            merged.append(runs[-1])
        runs = merged
    return make_list(runs[0] if runs else [])


def _merge(left, right, less):
    out, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        if (yield less, [right[j], left[i]]) is not False:     # only a strictly smaller right goes first
            out.append(right[j])
            j += 1
        else:
            out.append(left[i])
            i += 1
    return out + left[i:] + right[j:]
