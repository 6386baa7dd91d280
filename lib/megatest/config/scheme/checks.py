"""Argument checks shared by the procedures: each returns the checked value or raises ProcError
saying what was expected and what came, so no Python TypeError can come out of user data."""
from megatest.config.scheme.data import Char, Procedure, Symbol, is_integer, is_number, list_items
from megatest.config.scheme.errors import ProcError
from megatest.config.scheme.printer import brief


def expected(what, value):
    return ProcError(f"expected {what}, got {brief(value)}")


def _instance_of(kind, what):
    def check(value):
        if not isinstance(value, kind):
            raise expected(what, value)
        return value
    return check


string_arg = _instance_of(str, "a string")
symbol_arg = _instance_of(Symbol, "a symbol")
char_arg = _instance_of(Char, "a character")
procedure_arg = _instance_of(Procedure, "a procedure")


def number_arg(value):
    if not is_number(value):
        raise expected("a number", value)
    return value


def integer_arg(value):
    """An exact integer; CHICKEN's integer procedures also take a flonum with no fraction."""
    if is_integer(value) or (isinstance(value, float) and value.is_integer()):
        return value
    raise expected("an integer", value)


def index_arg(value):
    if not is_integer(value) or value < 0:
        raise expected("a non-negative exact integer", value)
    return value


def list_arg(rt, value):
    """The items of a proper list, paid for at one step per item."""
    items = list_items(value)
    if items is None:
        raise expected("a proper list", value)
    rt.charge(len(items))
    return items


def strings_arg(rt, value):
    items = list_arg(rt, value)
    for item in items:
        if not isinstance(item, str):
            raise expected("a list of strings", item)
    return items
