"""Date parsing: ``to_date(text, format)`` with an exact shortcut for plain day-month-year text.

``to_date`` with a format runs Java's ``DateTimeFormatter`` on every value: at 10M order lines
the orders' three ``M/d/yyyy`` columns cost more than all their other columns' typing together.
``parse_date`` gives the same result as ``to_date`` for every text, but reads canonical text
(digits without leading zeros, a four-digit year from 1000) with ``make_date`` over the split
fields, and leaves every other text to ``to_date``.
"""

import re
from typing import Dict, Optional, Tuple

from pyspark.sql import Column
from pyspark.sql import functions as F

#: The formats with a shortcut: the fields M, d and yyyy once each, joined by one separator.
_SHORTCUT_FORMAT = re.compile(r"^(M|d|yyyy)([/.-])(M|d|yyyy)\2(M|d|yyyy)$")
#: Octets of each field's text in canonical form: (fewest, most).
_FIELD_WIDTHS = {"M": (1, 2), "d": (1, 2), "yyyy": (4, 4)}


def within_calendar_years(value: Column) -> Column:
    """``value`` (a date or timestamp), null outside the years 1 to 9999.

    A pattern's ``yyyy`` reads ``+10000-01-01`` too: such a date was published, and readers
    that keep four-digit years (pyarrow, Athena's partition values) then fail on the table.
    """
    return F.when(F.year(value).between(1, 9999), value)


def parse_date(text: Column, date_format: str) -> Column:
    """The date in ``text`` written as ``date_format``; null where ``to_date`` gives null.

    Parameters
    ----------
    text : Column
        String column.
    date_format : str
        A Spark datetime pattern, e.g. ``M/d/yyyy``.

    Returns
    -------
    Column
        ``to_date(text, date_format)``, computed without the formatter for canonical text when
        the format is one of ``M``, ``d`` and ``yyyy`` joined by ``/``, ``.`` or ``-``.
    """
    parsed = within_calendar_years(F.to_date(text, date_format))
    shortcut = shortcut_fields(date_format)
    if shortcut is None:
        return parsed
    fields, separator = shortcut
    return F.coalesce(canonical_date(text, fields, separator), parsed)


def shortcut_fields(date_format: str) -> Optional[Tuple[Dict[str, int], str]]:
    """Position (0, 1, 2) of each field, and the separator, of a format with a shortcut.

    None for any other format (those are parsed by ``to_date`` alone).
    """
    match = _SHORTCUT_FORMAT.match(date_format)
    if match is None:
        return None
    names = (match.group(1), match.group(3), match.group(4))
    if len(set(names)) != 3:
        return None
    return {name: position for position, name in enumerate(names)}, match.group(2)


def canonical_date(text: Column, fields: Dict[str, int], separator: str) -> Column:
    """``make_date`` of the fields where ``text`` is canonical; null elsewhere.

    Canonical: exactly two separators, and each field's text has its field's width and a value
    needing all its digits (``05`` is 5, which needs one digit: not canonical). A value that
    needs as many digits as the text has octets can only be written with digits, so a sign,
    a space, a dot or a leading zero in a field sends the text to ``to_date``. Such text
    ``to_date`` reads the same way as ``make_date``; an impossible date (2/30/2014) is null in
    ``make_date`` and so goes to ``to_date`` too.
    """
    parts = [
        F.substring_index(text, separator, 1),
        F.substring_index(F.substring_index(text, separator, 2), separator, -1),
        F.substring_index(text, separator, -1),
    ]
    widths = [F.octet_length(part) for part in parts]
    canonical = F.octet_length(text) == widths[0] + widths[1] + widths[2] + F.lit(2)
    values = {}
    for name, position in fields.items():
        width, value = widths[position], parts[position].cast("int")
        fewest, most = _FIELD_WIDTHS[name]
        smallest = F.when(width == 1, F.lit(1)).when(width == 2, F.lit(10)).otherwise(F.lit(1000))
        canonical = canonical & width.between(fewest, most) & (value >= smallest)
        values[name] = value
    return F.when(canonical, F.make_date(values["yyyy"], values["M"], values["d"]))
