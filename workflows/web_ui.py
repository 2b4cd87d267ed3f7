"""What the Temporal Web UI shows of an agreement: its current details, in markdown.

The workflow sets these as its current details; the wording shared with the CLI (``waiting_summary``,
``money_summary``, ``rejection_summary``, ``schedule_summary``, ``variation_markdown``) lives in
``domain.status``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from domain import escape
from domain.business_case import BenefitPosition
from domain.drift import humanise
from domain.model import Stage
from domain.status import (
    AgreementStatus,
    money_summary,
    rejection_summary,
    schedule_summary,
    signed_by,
    variation_markdown,
    waiting_summary,
    when_text,
)

_CELL_GAP = "\u2003\u2003"
"""Two em spaces after each cell but the last. The Web UI renders markdown tables with no cell padding (its frame's
stylesheet resets padding, and its content policy drops style attributes), so without them the columns run
together ("8.50 GBP-"); an em space is not whitespace the markdown parser trims."""


def details_markdown(status: AgreementStatus) -> str:
    """The agreement's current details for the Web UI, in markdown: its title, stage, RAG and deadline, what it
    waits for, the one-line summaries that apply, the current stage's table, the pending variation and the open
    alerts, as blocks separated by blank lines."""
    deadline = f" · **Deadline:** {when_text(status.deadline)}" if status.deadline else ""
    blocks = [
        f"### {_md(status.title)}",
        _partnership(status),
        f"**Stage:** {status.stage.label} · **RAG:** {status.rag.value.upper()}{deadline}",
        _md(_sentence(waiting_summary(status))),
        *_summary_blocks(status),
        *_stage_blocks(status),
    ]
    if status.variation is not None:
        blocks.append(variation_markdown(status, status.variation, _md))
    if status.open_alerts:
        blocks.append("**Open alerts**")
        blocks.append("\n".join(f"- {a.level}: {_md(a.subject)} {_md(a.off_by)}" for a in status.open_alerts))
    return "\n\n".join(blocks)


def _partnership(status: AgreementStatus) -> str:
    """What the start's static details say, on every run (a continued run has no static summary or details):
    'Service: Waste collection (waste) · Lead body: Tamworth · Partners: Tamworth, Lichfield'."""
    names = [_md(status.body_names.get(code, code)) for code in status.partner_bodies]
    return (f"**Service:** {_md(status.service_name)} ({status.service_category.value}) · **Lead body:** "
            f"{_md(status.body_names.get(status.lead_body, status.lead_body))} · **Partners:** {', '.join(names)}")


def benefits_summary(benefits: BenefitPosition) -> str:
    """'£99,726.03 saved to date against £124,657.53 planned (amber) after review 1; payback forecast
    2028-11-14, 3 months 26 days later than planned (amber)': the benefits for the Web UI's details."""
    text = (f"£{benefits.cumulative_saving:,.2f} saved to date against £{benefits.cumulative_planned:,.2f} "
            f"planned ({benefits.rag.value}) after review {benefits.review_number}")
    if benefits.paid_back:
        return text + "; the one-off cost is repaid"
    if benefits.planned_payback_at is None:
        return text
    if benefits.forecast_payback_at is None:
        return text + f"; no payback at the saving realised ({benefits.forecast_rag.value})"
    assert benefits.payback_slip is not None
    later = (f"{humanise(benefits.planned_payback_at, benefits.forecast_payback_at)} later than planned"
             if benefits.payback_slip > timedelta(0) else "on or before the planned date")
    return text + (f"; payback forecast {benefits.forecast_payback_at:%Y-%m-%d}, {later} "
                   f"({benefits.forecast_rag.value})")


def _summary_blocks(status: AgreementStatus) -> list[str]:
    """The rejection, case, review schedule and benefits lines that apply, in that order."""
    blocks = []
    if rejection := rejection_summary(status):
        blocks.append(f"**Rejected:** {_md(_sentence(rejection))}")
    labelled = [
        ("Case", money_summary(status)),
        ("Reviews", schedule_summary(status)),
        ("Benefits", benefits_summary(status.benefits) if status.benefits is not None else None),
    ]
    return blocks + [f"**{label}:** {text}." for label, text in labelled if text]


def _stage_blocks(status: AgreementStatus) -> list[str]:
    """What the current stage adds: the sign-offs so far, the milestones or the KPI readings."""
    block = _STAGE_BLOCK.get(status.stage)
    return [text] if block is not None and (text := block(status)) else []


def _sign_offs_block(status: AgreementStatus) -> str:
    signed = ", ".join(f"{status.body_names.get(s.body, s.body)} ({signed_by(s)})" for s in status.sign_offs)
    return _md(f"Signed in round {status.sign_off_round}: {signed or 'none yet'}.")


def _milestones_block(status: AgreementStatus) -> str:
    return _table(
        [("Milestone", "left"), ("Owner", "left"), ("Due", "left"), ("Progress", "right")],
        [[m.title, status.body_names.get(m.owner_body, m.owner_body), str(m.due), f"{m.percent_complete}%"]
         for m in status.milestones],
    )


def _kpis_block(status: AgreementStatus) -> str:
    """The KPI table; empty when the plan has no KPIs."""
    if not status.kpis:
        return ""
    return _table(
        [("KPI", "left"), ("Target", "right"), ("Reading", "right"), ("RAG", "left")],
        [[k.name, f"{k.target} {k.unit}", "-" if k.reading is None else f"{k.reading} {k.unit}",
          k.rag.value if k.rag else "-"] for k in status.kpis],
    )


_STAGE_BLOCK: dict[Stage, Callable[[AgreementStatus], str]] = {
    Stage.SIGN_OFF: _sign_offs_block,
    Stage.IMPLEMENTATION: _milestones_block,
    Stage.REVIEW: _kpis_block,
}
"""The block each stage adds to the details; a stage not listed (or an empty block) adds none."""


def _md(text: str) -> str:
    """Words from an agreement, shown as written: Markdown-escaped (``domain.escape.markdown``), on one line."""
    return escape.markdown(escape.one_line(text))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _table(columns: list[tuple[str, str]], rows: list[list[str]]) -> str:
    """A markdown table; ``columns`` are (heading, 'left' or 'right'), cells are words shown as written (``_md``:
    a pipe, a link or emphasis in a milestone's title is text)."""
    def line(cells: list[str]) -> str:
        padded = [_md(cell) + (_CELL_GAP if i < len(cells) - 1 else "") for i, cell in enumerate(cells)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(":---" if align == "left" else "---:" for _, align in columns) + "|"
    return "\n".join([line([heading for heading, _ in columns]), rule, *(line(row) for row in rows)])
