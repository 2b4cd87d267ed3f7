"""The demo's live view: one row per agreement and, below it, as many of the latest steps and alerts as the
terminal has room for. Built to fit a terminal of 80 columns by 24 lines: every agreement shows, headers are
never cut, values wrap between words."""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.cells import cell_len
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from cli.output import fitted_widths
from domain.model import Rag, Stage
from domain.status import AgreementStatus
from domain.timestamps import utc_clock

STAGES = [Stage.PROPOSAL, Stage.OBJECTIVE_SETTING, Stage.SIGN_OFF, Stage.IMPLEMENTATION, Stage.REVIEW]
RAG_STYLE = {Rag.GREEN: "green", Rag.AMBER: "yellow", Rag.RED: "bold red"}
COLUMNS = ["Agreement", "Stage", "RAG", "Waiting on", "Deadline", "Alerts", "Decided"]
_FRAME_SAVED = 4
"""Columns this table's box (no outer edge or padding) spends less than ``cli.output``'s framed tables."""
TITLE = "Concordat demo portfolio (time compressed: stages last seconds; times UTC)"
EVENTS_TITLE = "Latest steps and alerts"


def row(label: str, status: AgreementStatus | None) -> list[str]:
    """The cells of one agreement (``label`` names it); before its first status, 'starting'."""
    if status is None:
        return [label, "starting", "", "", "", "", ""]
    position = len(STAGES) if status.stage is Stage.CLOSED else STAGES.index(status.stage) + 1
    stage = status.stage.label + (f" {status.review_number}" if status.stage is Stage.REVIEW else "")
    return [
        label,
        "●" * position + "○" * (len(STAGES) - position) + " "
        + (f"closed: {status.closure.outcome.value}" if status.closure else stage),
        status.rag.value,
        _waiting(status),
        utc_clock(status.deadline) if status.deadline else "-",
        str(len(status.open_alerts)),
        str(status.decisions_recorded),
    ]


def _waiting(status: AgreementStatus) -> str:
    """Who the agreement waits on: the first body by name, then how many more (``status`` has every name)."""
    names = [w.body_name for w in status.waiting_on]
    if len(names) > 1:
        return f"{names[0]} and {len(names) - 1} more"
    return names[0] if names else "-"


def table(rows: Sequence[Sequence[str]], width: int) -> Table:
    """The portfolio's table, at most ``width`` wide where the longest words allow, RAG in its colour."""
    widths: Sequence[int | None] = fitted_widths(COLUMNS, rows, width + _FRAME_SAVED) or [None] * len(COLUMNS)
    portfolio = Table(title=TITLE, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                      expand=False)
    for column, column_width in zip(COLUMNS, widths, strict=True):
        portfolio.add_column(column, width=column_width, overflow="fold")
    rag = COLUMNS.index("RAG")
    for cells in rows:
        styled = [Text(cell) for cell in cells]
        if cells[rag] in {r.value for r in Rag}:
            styled[rag].stylize(RAG_STYLE[Rag(cells[rag])])
        portfolio.add_row(*styled)
    return portfolio


def view(console: Console, rows: Sequence[Sequence[str]], events: Sequence[str]) -> Group:
    """The table and, below, the newest ``events`` that fit the console's height (at least the newest one)."""
    width, height = console.size
    portfolio = table(rows, width)
    used = len(console.render_lines(portfolio, console.options.update(width=width), pad=False))
    room = height - used - 3  # the panel's two borders, and the line Live keeps for the cursor
    inner = max(1, width - 4)
    shown: list[str] = []
    for event in reversed(events):
        lines = max(1, math.ceil(cell_len(event) / inner))
        if shown and lines > room:
            break
        shown.insert(0, event)
        room -= lines
    return Group(portfolio, Panel(Text("\n".join(shown) or "..."), title=EVENTS_TITLE))
