"""Numbers as CHICKEN 4 (which Megatest is built with) has them: fixnums that turn into
flonums when they overflow, and the text each kind reads from and prints as."""
import math
import re

# CHICKEN 4 on a 64-bit machine without the numbers egg: no bignums, no rationals. An exact
# result outside this range becomes a flonum, which also keeps every integer here small.
MOST_POSITIVE_FIXNUM = 2 ** 62 - 1
MOST_NEGATIVE_FIXNUM = -(2 ** 62)
FLONUM_PRECISION = 15             # significant digits CHICKEN 4 prints a flonum with

_DECIMAL_INT = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {"+inf.0": math.inf, "-inf.0": -math.inf, "+nan.0": math.nan, "-nan.0": math.nan}
_RADIX_DIGITS = {2: "01", 8: "01234567", 16: "0123456789abcdefABCDEF"}
_LONGEST_FIXNUM_DIGITS = 19


def to_float(n):
    """A flonum for N, infinite when N is beyond what a double holds (as C's conversion gives)."""
    try:
        return float(n)
    except OverflowError:
        return math.inf if n > 0 else -math.inf


def fix(n):
    """N as CHICKEN 4 would hold it: an exact integer only while it fits in a fixnum."""
    if isinstance(n, int) and not MOST_NEGATIVE_FIXNUM <= n <= MOST_POSITIVE_FIXNUM:
        return to_float(n)
    return n


def parse_number(text, radix=10):
    """The number TEXT spells in RADIX, or None. Python's int()/float() accept more than Scheme
    (underscores, other scripts' digits, spaces), so the shape is checked first."""
    if radix == 10:
        if text in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[text]
        if _DECIMAL_INT.match(text):
            if len(text.lstrip("+-")) > _LONGEST_FIXNUM_DIGITS:
                return to_float(float(text))
            return fix(int(text))
        if _DECIMAL_FLOAT.match(text) and any(c.isdigit() for c in text):
            return float(text)
        return None
    digits = _RADIX_DIGITS.get(radix)
    body = text[1:] if text[:1] in "+-" else text
    if digits is None or not body or any(c not in digits for c in body):
        return None
    return fix(int(text, radix))


def format_number(n, radix=10):
    """The text `display` and number->string give for N."""
    if isinstance(n, int):
        if radix == 10:
            return str(n)
        spec = {2: "b", 8: "o", 16: "x"}[radix]
        return format(n, spec)
    if math.isnan(n):
        return "+nan.0"
    if math.isinf(n):
        return "+inf.0" if n > 0 else "-inf.0"
    text = "%.*g" % (FLONUM_PRECISION, n)
    if "." not in text and "e" not in text:
        text += ".0"
    return text
