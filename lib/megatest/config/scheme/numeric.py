"""Arithmetic, comparison and number<->text procedures, with CHICKEN 4's fixnum/flonum rules."""
import math
import operator

from megatest.config.scheme.checks import expected, integer_arg, number_arg, string_arg
from megatest.config.scheme.data import Symbol, is_integer, is_number, registrar
from megatest.config.scheme.errors import ProcError
from megatest.config.scheme.numtext import (MOST_NEGATIVE_FIXNUM, MOST_POSITIVE_FIXNUM, fix, format_number,
                                     parse_number, to_float)

PROCEDURES = {}
procedure = registrar(PROCEDURES)
_RADIXES = (2, 8, 10, 16)
_FIXNUM_BITS = 62


def _fold(args, combine, start):
    result = start
    for arg in args:
        result = fix(combine(result, number_arg(arg)))
    return result


@procedure("+", 0, None)
def add(rt, *args):
    return _fold(args, operator.add, 0)


@procedure("*", 0, None)
def multiply(rt, *args):
    return _fold(args, operator.mul, 1)


@procedure("-", 1, None)
def subtract(rt, first, *rest):
    if not rest:
        return fix(-number_arg(first))
    return _fold(rest, operator.sub, number_arg(first))


def _divide(a, b):
    if b == 0:
        if is_integer(b):
            raise ProcError("division by zero")
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a) * math.copysign(1, b)
    if is_integer(a) and is_integer(b) and a % b == 0:
        return fix(a // b)
    return a / b          # no rationals in CHICKEN 4: an inexact quotient is a flonum


@procedure("/", 1, None)
def divide(rt, first, *rest):
    if not rest:
        return _divide(1, number_arg(first))
    return _fold(rest, _divide, number_arg(first))


def _compare(test):
    def compare(rt, *args):
        for arg in args:
            number_arg(arg)
        return all(test(a, b) for a, b in zip(args, args[1:]))
    return compare


for _name, _test in (("=", operator.eq), ("<", operator.lt), (">", operator.gt),
                     ("<=", operator.le), (">=", operator.ge)):
    procedure(_name, 1, None)(_compare(_test))


def _integer_division(a, b):
    """Operands checked, and the truncated quotient; CHICKEN takes integral flonums here too."""
    integer_arg(a)
    integer_arg(b)
    if b == 0:
        raise ProcError("division by zero")
    if is_integer(a) and is_integer(b):
        quotient = abs(a) // abs(b)
        return quotient if (a < 0) == (b < 0) else -quotient
    return float(math.trunc(a / b))


@procedure("quotient", 2)
def quotient(rt, a, b):
    return fix(_integer_division(a, b))


@procedure("remainder", 2)
def remainder(rt, a, b):
    return fix(a - b * _integer_division(a, b))


@procedure("modulo", 2)
def modulo(rt, a, b):
    _integer_division(a, b)
    return fix(a % b)         # Python's % takes the divisor's sign, as modulo does


@procedure("abs", 1)
def absolute(rt, x):
    return fix(abs(number_arg(x)))


def _extreme(pick):
    def extreme(rt, *args):
        for arg in args:
            number_arg(arg)
        result = pick(args)
        return to_float(result) if any(isinstance(arg, float) for arg in args) else result
    return extreme


procedure("min", 1, None)(_extreme(min))
procedure("max", 1, None)(_extreme(max))


@procedure("add1", 1)
def add1(rt, x):
    return fix(number_arg(x) + 1)


@procedure("sub1", 1)
def sub1(rt, x):
    return fix(number_arg(x) - 1)


def _rounding(float_op):
    def rounding(rt, x):
        number_arg(x)
        if isinstance(x, int) or not math.isfinite(x):
            return x
        return float(float_op(x))
    return rounding


procedure("floor", 1)(_rounding(math.floor))
procedure("ceiling", 1)(_rounding(math.ceil))
procedure("truncate", 1)(_rounding(math.trunc))
procedure("round", 1)(_rounding(round))          # Python rounds halves to even, as Scheme does


@procedure("expt", 2)
def expt(rt, base, power):
    number_arg(base)
    number_arg(power)
    if is_integer(base) and is_integer(power) and power >= 0:
        if abs(base) <= 1 or base.bit_length() * power <= _FIXNUM_BITS + 1:
            return fix(base ** power)        # small enough to compute exactly
    if base == 0 and power < 0:
        raise ProcError("division by zero")
    try:
        return math.pow(base, power)
    except OverflowError:
        return -math.inf if base < 0 and is_integer(power) and power % 2 else math.inf
    except ValueError:
        raise ProcError(f"({format_number(base)})^{format_number(power)} is not a real number") from None


@procedure("sqrt", 1)
def square_root(rt, x):
    number_arg(x)
    return math.sqrt(x) if x >= 0 else math.nan


@procedure("exact->inexact", 1)
def exact_to_inexact(rt, x):
    return to_float(number_arg(x))


@procedure("inexact->exact", 1)
def inexact_to_exact(rt, x):
    number_arg(x)
    if isinstance(x, float):
        if not x.is_integer() or not MOST_NEGATIVE_FIXNUM <= x <= MOST_POSITIVE_FIXNUM:
            raise expected("a number with an exact integer value", x)
        return int(x)
    return x


PROCEDURES["exact"] = PROCEDURES["inexact->exact"]
PROCEDURES["inexact"] = PROCEDURES["exact->inexact"]


def _predicate(test, check=number_arg):
    def predicate(rt, x):
        return test(check(x))
    return predicate


procedure("zero?", 1)(_predicate(lambda x: x == 0))
procedure("positive?", 1)(_predicate(lambda x: x > 0))
procedure("negative?", 1)(_predicate(lambda x: x < 0))
procedure("odd?", 1)(_predicate(lambda x: x % 2 == 1, integer_arg))
procedure("even?", 1)(_predicate(lambda x: x % 2 == 0, integer_arg))
procedure("number?", 1)(_predicate(is_number, lambda x: x))
procedure("integer?", 1)(_predicate(lambda x: is_number(x) and float(x).is_integer(), lambda x: x))
procedure("exact?", 1)(_predicate(is_integer))
procedure("inexact?", 1)(_predicate(lambda x: isinstance(x, float)))


def _radix_arg(radix):
    if radix not in _RADIXES or not is_integer(radix):
        raise expected("a radix of 2, 8, 10 or 16", radix)
    return radix


@procedure("number->string", 1, 2)
def number_to_string(rt, n, radix=10):
    number_arg(n)
    radix = _radix_arg(radix)
    if isinstance(n, float) and radix != 10:
        raise ProcError("a flonum can only be written in radix 10")
    return format_number(n, radix)


@procedure("string->number", 1, 2)
def string_to_number(rt, text, radix=10):
    rt.charge_text(len(string_arg(text)))
    number = parse_number(text, _radix_arg(radix))
    return False if number is None else number


@procedure("any->number", 1)
def any_to_number(rt, value):
    """Megatest's (common.scm): a number as is, a string or symbol read as one, else #f."""
    if is_number(value):
        return value
    if isinstance(value, Symbol):
        value = value.name
    if isinstance(value, str):
        return string_to_number(rt, value)
    return False
