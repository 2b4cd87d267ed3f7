"""How the command line prints: tables, JSON and moments, for a person in a terminal or a program in a pipe.

In a terminal a table fits the terminal's width and wraps its values between words, never within one and never
cut with an ellipsis; when even one word a column must show is too wide for that, each row is printed as lines of
``Column: value`` instead. In a pipe every table is plain tab-separated values under a header line, each value
whole, for ``cut``, ``awk -F'\\t'`` or a spreadsheet (a value that a spreadsheet would read as a formula is
prefixed with ``'``). Used by ``starter.py``, ``dispatcher/cli.py`` and
``report/cli.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from domain.escape import spreadsheet_cell
from domain.timestamps import utc_text

_TAB_SEPARATED_SPACES = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]")
"""What a tab-separated value may not hold: each becomes a space."""

_CELL_FRAME = 3
"""Columns a table spends on each column besides its values: a space either side and a border."""


def when(moment: datetime | None) -> str:
    """``moment`` in UTC ('2027-01-04 09:00 UTC'), or '-' for none."""
    return utc_text(moment) if moment else "-"


def print_json(console: Console, data: Any) -> None:
    """Indented and coloured in a terminal; in a pipe, one unbroken line of JSON (datetimes and decimals as
    strings)."""
    if console.is_terminal:
        console.print_json(json.dumps(data, default=str))
    else:
        console.file.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")


def print_table(console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``columns``: a table that fits the terminal, or tab-separated values in a pipe."""
    if not console.is_terminal:
        _print_tab_separated(console, columns, rows)
        return
    widths = fitted_widths(columns, rows, console.width)
    if widths is None:
        _print_records(console, title, columns, rows)
        return
    table = Table(title=title, expand=False)
    for column, width in zip(columns, widths, strict=True):
        table.add_column(column, width=width, overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # values as written, never read as markup
    console.print(table)


def fitted_widths(columns: Sequence[str], rows: Sequence[Sequence[str]], width: int) -> list[int] | None:
    """Each column's width so that the table is at most ``width`` wide and no column is narrower than the
    longest word it holds (its header included). The space left goes first to the columns that need least to
    show their values unwrapped, then, shared in proportion to what they lack, to the rest. None when even the
    longest words do not fit."""
    cells = [[column, *(row[i] for row in rows)] for i, column in enumerate(columns)]
    shortest = [max(_longest_word(cell) for cell in column) for column in cells]
    natural = [max(_longest_line(cell) for cell in column) for column in cells]
    room = width - _CELL_FRAME * len(columns) - 1
    if sum(shortest) > room:
        return None
    return _share(shortest, natural, room - sum(shortest))


def _share(widths: list[int], natural: list[int], spare: int) -> list[int]:
    """``widths`` widened within ``spare``: whole columns first, least needy first, then the rest in proportion."""
    widths = list(widths)
    for i in sorted(range(len(widths)), key=lambda i: natural[i] - widths[i]):
        if natural[i] - widths[i] <= spare:
            spare -= natural[i] - widths[i]
            widths[i] = natural[i]
    wanted = sum(natural) - sum(widths)
    return [w + (n - w) * spare // wanted if wanted else w for w, n in zip(widths, natural, strict=True)]


def _longest_line(text: str) -> int:
    return max(cell_len(line) for line in text.split("\n"))


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=1)


def _print_tab_separated(console: Console, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Each value on one line, tabs and line breaks as spaces, and never read as a formula by a spreadsheet
    (``domain.escape.spreadsheet_cell``)."""
    for line in (columns, *rows):
        console.file.write("\t".join(spreadsheet_cell(_TAB_SEPARATED_SPACES.sub(" ", cell)) for cell in line) + "\n")


def _print_records(console: Console, title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """One block of ``Column: value`` lines a row, for a terminal too narrow for the table."""
    console.print(Text(title, style="italic"))
    for row in rows:
        console.print()
        for column, cell in zip(columns, row, strict=True):
            console.print(Text.assemble((f"{column}: ", "bold"), cell))
