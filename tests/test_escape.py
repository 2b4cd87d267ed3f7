"""Words from an agreement made safe for where they are shown (``domain.escape``)."""

import unicodedata

from domain import escape


def test_one_line_replaces_exactly_what_the_unicode_database_calls_control_separator_or_bidi():
    everything = "".join(chr(code) for code in range(0x110000))
    kept = "".join(c for c in everything
                   if unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp") and c not in escape._BIDI)
    assert escape._NOT_ON_ONE_LINE.sub("", everything) == kept


def test_one_line_turns_each_run_of_breaks_into_one_space():
    assert escape.one_line(" Waste\r\n\u2028collection\u202e  for\tthree \x00councils ") == \
        "Waste collection for three councils"
