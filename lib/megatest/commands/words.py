"""Counts in messages: one spelling of singular and plural for every command."""


def plural(n, singular, plural_form=None):
    """'1 record', '2 records'; plural_form for words that do not just take an s."""
    return f"{n} {singular if n == 1 else (plural_form or singular + 's')}"


def tests_and_items(n):
    """What a run summary counts: items, non-iterated tests, and the toplevel record of an
    iterated test only while it has no item records (it then stands for the test)."""
    return plural(n, "test or item", "tests and items")


def counted_records(records):
    """The records of one run that tests_and_items counts: a toplevel record is left out
    when item records of its test are there."""
    with_items = {r["testname"] for r in records if r["item_path"]}
    return [r for r in records if r["item_path"] or r["testname"] not in with_items]
