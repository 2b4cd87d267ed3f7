"""The board's report as HTML (charts from matplotlib, embedded as PNG) and as PDF (headless Chromium).

Charts are drawn on ``matplotlib.figure.Figure`` directly (no pyplot, so no GUI backend and no global state)."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from report.data import AgreementLine, BoardReport, money

STAGES = ["proposal", "objective_setting", "sign_off", "implementation", "review", "closed"]
RAG_COLOURS = {"green": "#00703c", "amber": "#f47738", "red": "#d4351c"}
PLANNED, REALISED = "#1d70b8", "#00703c"


def pounds(amount: Decimal | None) -> str:
    """Pounds as a finance officer writes them (``report.data.money``): −£1,234.56, never £-1,234.56."""
    return money(amount)


def _words(text: str) -> str:
    """A table cell's short text of our own (an id, a stage), broken on paper only between words or at hyphens
    (on screen, as any cell's words, anywhere: the page may be narrower than any word)."""
    return f'<span class="w">{escape(text)}</span>'


def _amount(amount: Decimal | None) -> str:
    """Pounds in a table's cell, never broken across lines on paper (on screen, as any cell's words: anywhere,
    so that no word, however long, pushes a table off a narrow page)."""
    return f'<span class="nw">{pounds(amount)}</span>'


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode()


def _money_tick(value: float, _: object = None) -> str:
    """An axis label in pounds: £1.2m, £250k or £6.30, as the scale needs; −£1.2m below zero."""
    size = abs(value)
    sign = "−" if value < 0 else ""
    if size >= 1_000_000:
        return f"{sign}£{size / 1_000_000:,.1f}m"
    if size >= 10_000:
        return f"{sign}£{size / 1000:,.0f}k"
    return f"{sign}£{size:,.2f}" if size < 100 else f"{sign}£{size:,.0f}"


def _duration_unit(days: Iterable[float]) -> tuple[str, float]:
    """The unit to show durations in: days, or hours or seconds when time is compressed (trials, the demo)."""
    longest = max(days, default=0)
    if longest >= 1:
        return "days", 1
    if longest >= 1 / 24:
        return "hours", 24
    return "seconds (compressed)", 86400


def _label(stage: str) -> str:
    return stage.replace("_", " ")


def savings_by_agreement(report: BoardReport) -> str:
    """Cumulative savings planned against realised, per agreement with figures recorded (the 25 with the most
    planned, largest first), as a base64 PNG bar chart."""
    lines = _largest_with_figures(report, 25)
    figure = Figure(figsize=(10, max(2.5, 0.32 * len(lines) + 1)))
    axes = figure.subplots()
    positions = range(len(lines))
    axes.barh([p + 0.2 for p in positions], [float(a.cumulative_planned or 0) for a in lines], 0.4,
              label="planned (business case)", color=PLANNED)
    axes.barh([p - 0.2 for p in positions], [float(a.cumulative_saving or 0) for a in lines], 0.4,
              label="realised", color=REALISED)
    axes.set_yticks(list(positions), [_short(a.title) for a in lines], fontsize=8)
    axes.invert_yaxis()
    axes.xaxis.set_major_formatter(_money_tick)
    axes.set_title("Cumulative savings to date, per agreement" + (" (the 25 largest)" if len(lines) == 25 else ""))
    axes.legend(loc="lower right")
    return _png(figure)


def _largest_with_figures(report: BoardReport, count: int) -> list[AgreementLine]:
    """The ``count`` agreements with savings recorded that planned the most to date, largest first."""
    recorded = (a for a in report.agreements if a.cumulative_saving is not None)
    return sorted(recorded, key=lambda a: a.cumulative_planned or 0, reverse=True)[:count]


def _short(title: str) -> str:
    """A title cut to fit a chart's axis: at most 46 characters, an ellipsis marking a cut, on one line, with
    ``$`` escaped so that matplotlib never reads it as mathematics."""
    title = " ".join(title.split())
    return (title if len(title) <= 46 else title[:45].rstrip() + "…").replace("$", r"\$")


def savings_over_time(report: BoardReport) -> str:
    figure = Figure(figsize=(10, 3.6))
    axes = figure.subplots()
    times: list[Any] = [t for t, _, _ in report.savings_over_time]  # datetimes: matplotlib's stubs type numbers
    axes.step(times, [float(p) for _, p, _ in report.savings_over_time], where="post", label="planned",
              color=PLANNED)
    axes.step(times, [float(r) for _, _, r in report.savings_over_time], where="post", label="realised",
              color=REALISED)
    axes.yaxis.set_major_formatter(_money_tick)
    axes.set_title("Cumulative savings across the portfolio, by review period end")
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    return _png(figure)


def rag_by_stage(report: BoardReport) -> str:
    figure = Figure(figsize=(5, 3.2))
    axes = figure.subplots()
    stages = [s for s in STAGES if s in report.rag_by_stage]
    amber = [report.rag_by_stage[s]["amber"] for s in stages]
    red = [report.rag_by_stage[s]["red"] for s in stages]
    axes.bar([_label(s) for s in stages], amber, color=RAG_COLOURS["amber"], label="amber")
    axes.bar([_label(s) for s in stages], red, bottom=amber, color=RAG_COLOURS["red"], label="red")
    axes.set_title("Agreements amber or red in each stage (alerts and benefit reviews)")
    axes.set_ylabel("agreements (each counted once, at its worst)")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(axis="x", labelrotation=20, labelsize=8)
    axes.legend()
    return _png(figure)


def days_in_stage(report: BoardReport) -> str:
    figure = Figure(figsize=(5, 3.2))
    axes = figure.subplots()
    stages = [s for s in STAGES if s in report.days_in_stage]
    unit, per_day = _duration_unit(report.days_in_stage.values())
    axes.bar([_label(s) for s in stages], [report.days_in_stage[s] * per_day for s in stages], color=PLANNED)
    axes.set_ylabel(unit)
    axes.set_title("Time spent in each stage (mean of visits)")
    axes.tick_params(axis="x", labelrotation=20, labelsize=8)
    return _png(figure)


def sign_off_cycles(report: BoardReport) -> str:
    figure = Figure(figsize=(5, 3.2))
    axes = figure.subplots()
    unit, per_day = _duration_unit(d for _, d, _ in report.sign_off_cycles)
    approved = [d * per_day for _, d, outcome in report.sign_off_cycles if outcome in ("implementation", "review")]
    other = [d * per_day for _, d, outcome in report.sign_off_cycles if outcome not in ("implementation", "review")]
    axes.hist([approved, other], bins=12, stacked=True, color=[REALISED, RAG_COLOURS["red"]],
              label=["approved", "rejected or closed"])
    axes.set_xlabel(f"{unit} from submission to the last sign-off")
    axes.set_ylabel("sign-off rounds")
    axes.set_title("Sign-off cycle times")
    axes.legend()
    return _png(figure)


def _rag(value: str | None) -> str:
    if value is None:
        return "-"
    return f'<span class="rag {escape(value)}">{escape(value)}</span>'


def _rows(rows: Iterable[Iterable[str]]) -> str:
    return "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)


def _table(headings: Iterable[str], body: str) -> str:
    """A table whose headings repeat on every printed page (``thead``) and whose rows never split across pages."""
    head = "".join(f"<th>{heading}</th>" for heading in headings)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
@page { size: A4; margin: 14mm 12mm 16mm 12mm;
        @bottom-right { content: "Page " counter(page) " of " counter(pages); font: 9px Arial, sans-serif; }
        @bottom-left { content: "Is sharing paying off? Board report"; font: 9px Arial, sans-serif; } }
body { font-family: Arial, Helvetica, sans-serif; color: #0b0c0c; margin: 24px 32px; max-width: 1100px; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 19px; margin-top: 28px; border-bottom: 2px solid #1d70b8; }
.meta { color: #505a5f; } .figures { display: flex; gap: 16px; flex-wrap: wrap; }
.compressed { border-left: 4px solid #f47738; padding: 4px 10px; background: #fff4e5; }
.figure { border-left: 5px solid #1d70b8; padding: 6px 12px; background: #f3f2f1; min-width: 180px; }
.figure b { display: block; font-size: 22px; } .charts { display: flex; flex-wrap: wrap; gap: 8px; }
.charts img { max-width: 100%; } .half img { width: 360px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; } th, td { text-align: left; padding: 4px 6px;
border-bottom: 1px solid #b1b4b6; vertical-align: top; overflow-wrap: anywhere; } th { background: #f3f2f1; }
td.n { text-align: right; overflow-wrap: normal; white-space: nowrap; }
.rag { padding: 1px 6px; color: white; border-radius: 3px; } .rag.green { background: #00703c; }
.rag.amber { background: #f47738; } .rag.red { background: #d4351c; } .rag.unreported { background: #505a5f; }
ul.exceptions { padding-left: 18px; } ul.exceptions li { margin: 3px 0; break-inside: avoid; }
@media print {
  body { margin: 0; max-width: none; }
  h2 { break-after: avoid; } .charts, table { break-inside: auto; }
  thead { display: table-header-group; } tr, img, .figure { break-inside: avoid; }
  table { font-size: 8.5px; } th, td { padding: 2px 3px; } ul.exceptions { font-size: 10px; }
  .nw, .rag { white-space: nowrap; } th, .w { overflow-wrap: normal; }
  ul.exceptions li { margin: 1px 0; } .figure b { font-size: 18px; }
}
"""

SHOWN_ON_TRACK = 100
"""The agreements table lists every exception and at most this many other agreements (the PDF's length bounded)."""


def html(report: BoardReport) -> str:
    """The whole report as one self-contained HTML page (A4 when printed): the executive summary first, then
    the exceptions-first tables and the charts."""
    return f"""<!DOCTYPE html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Is sharing paying off? Board report</title>
<style>{_STYLE}</style></head>
<body>
<h1>Is sharing paying off?</h1>
<p class="meta">The programme board's report for {_scope(report)}, from the decision ledger at
{report.generated_at:%Y-%m-%d %H:%M} UTC. Savings are pounds, against each agreement's baseline and business case.</p>
{_compressed(report)}<h2>Executive summary</h2>
<div class="figures">{_figures(report)}</div>
{_exceptions(report)}
<h2>Agreements, exceptions first</h2>
{_table(["Id", "Agreement", "Lead body", "Stage", "Expected saving a year", "Planned to date", "Realised to date",
         "Benefit", "Payback forecast", "Forecast payback", "Planned payback",
         "Preferred option's value against carrying on alone (NPSV)"], _agreement_rows(report))}
<h2>Savings planned and realised</h2>
<div class="charts">{_savings_charts(report) or "<p>No benefits have been recorded at a review yet.</p>"}</div>
<h2>Governance: RAG, time in stage, sign-off</h2>
<div class="charts half">{_governance_charts(report) or "<p>No stage has been completed yet.</p>"}</div>
<h2>Risks scored {report.risk_threshold} or more (of 25)</h2>
{_table(["Score", "Risk", "Agreement", "Owner", "Likelihood x impact", "Mitigation"], _risk_rows(report))}
{_more_risks(report)}
<h2>Recent lessons learned</h2>
{_table(["Recorded", "Agreement", "Review", "What worked", "What did not", "Tags"], _lesson_rows(report))}
</body></html>
"""


def _compressed(report: BoardReport) -> str:
    """A warning, for a portfolio run in compressed time (a demonstration), of what its dates and money mean."""
    scale = report.time_scale
    if scale <= 1:
        return ""
    return (f'<p class="compressed"><strong>Time is compressed.</strong> Each second of these agreements stands '
            f"for {scale:,} seconds (about {scale / 86400:,.1f} days): their stages and review periods last "
            "seconds, not months, and the savings are recorded at real scale, a review period's saving being a "
            "quarter's. Dates are when things happened in compressed time.</p>\n")


def _scope(report: BoardReport) -> str:
    if not report.lead_body:
        return "the whole portfolio"
    return f"{escape(report.lead_body_name or report.lead_body)} ({escape(report.lead_body)}), as lead body"


def _share(part: Decimal, whole: Decimal) -> str:
    return f"{part / whole:.0%}" if whole > 0 else "-"


def _figures(report: BoardReport) -> str:
    """The headline figures, each in a box: savings to date against plan, RAG now and a quarter ago."""
    planned, realised = report.planned_to_date_total, report.realised_total
    now, before = report.rag_counts(), report.rag_counts(last_quarter=True)
    live = sum(n for stage, n in report.by_stage.items() if stage == "review")
    figures = [
        ("Savings planned to date (every agreement in service, reported or not)", pounds(planned)),
        ("Savings realised to date", f"{pounds(realised)} ({_share(realised, planned)} of plan)"),
        ("Red agreements now (a quarter ago)", f"{now['red']} ({before['red']})"),
        ("Amber agreements now (a quarter ago)", f"{now['amber']} ({before['amber']})"),
        ("Agreements (of which in service now)", f"{len(report.agreements)} ({live})"),
    ]
    return "".join(f'<div class="figure">{escape(k)}<b>{v}</b></div>' for k, v in figures)


def _exceptions(report: BoardReport) -> str:
    """The exceptions, one line each: what is wrong and who owns it."""
    found = report.exceptions
    if not found:
        return "<p>No agreement is red, amber or overdue with its benefits.</p>"
    items = "".join(
        f"<li>{_rag(e.level)} <b>{escape(e.agreement_id)}</b> {escape(e.title)}: {escape(e.what)}. "
        f"Owner: {escape(e.owner)}.</li>" for e in found)
    return f'<p>Exceptions ({len(found)}):</p><ul class="exceptions">{items}</ul>'


def _img(alt: str, png: str) -> str:
    return f'<img alt="{alt}" src="data:image/png;base64,{png}">'


def _savings_charts(report: BoardReport) -> str:
    """The two savings charts, or nothing before any benefits are recorded."""
    if not report.savings_over_time:
        return ""
    return (_img("Savings planned and realised per agreement", savings_by_agreement(report))
            + _img("Cumulative savings over time", savings_over_time(report)))


def _governance_charts(report: BoardReport) -> str:
    """The RAG, time-in-stage and sign-off charts that have figures to draw."""
    charts = [
        ("RAG by stage", rag_by_stage, bool(report.rag_by_stage)),
        ("Time in each stage", days_in_stage, bool(report.days_in_stage)),
        ("Sign-off cycle times", sign_off_cycles, bool(report.sign_off_cycles)),
    ]
    return "".join(_img(alt, chart(report)) for alt, chart, drawn in charts if drawn)


def _date(moment: datetime | None) -> str:
    """A date, never broken across lines on paper (on screen, as any cell's words)."""
    return f'<span class="nw">{moment:%Y-%m-%d}</span>' if moment else "-"


def _payback(a: AgreementLine) -> str:
    """The forecast payback: a date, "paid back", "no payback" (none in sight at the saving realised) or "not yet
    reported" (no benefits recorded)."""
    if a.cumulative_saving is None:
        return _words("not yet reported")
    if a.paid_back:
        return _words("paid back")
    return _date(a.forecast_payback_at) if a.forecast_payback_at else _words("no payback")


def _agreement_rows(report: BoardReport) -> str:
    """Every exception (red, amber, unreported), then at most ``SHOWN_ON_TRACK`` other agreements by id, and a
    line counting the rest."""
    first = {e.agreement_id: n for n, e in enumerate(report.exceptions)}
    others = [a for a in report.agreements if a.agreement_id not in first]
    listed = sorted((a for a in report.agreements if a.agreement_id in first), key=lambda a: first[a.agreement_id])
    rows = _rows((
        _words(a.agreement_id), escape(a.title), escape(a.lead_body_name or ""), _words(_label(a.stage)),
        _amount(a.expected_annual_saving), _amount(a.cumulative_planned), _amount(a.cumulative_saving),
        _rag(a.benefit_rag), _rag(a.forecast_rag), _payback(a), _date(a.planned_payback_at), _amount(a.preferred_npsv),
    ) for a in [*listed, *others[:SHOWN_ON_TRACK]])
    rest = len(others) - SHOWN_ON_TRACK
    if rest > 0:
        rows += (f'<tr><td colspan="12">and {rest} more agreements with no exception (the read model lists them '
                 "all: rm_agreements)</td></tr>")
    return rows


def _risk_rows(report: BoardReport) -> str:
    return _rows((
        f'<b>{r["score"]}</b>', escape(r["risk"]), f'{escape(r["agreement_id"])} {escape(r["title"])}',
        escape(r["owner_name"] or r["owner_body"]), f'{r["likelihood"]} x {r["impact"]}',
        escape(r["mitigation"] or ""),
    ) for r in report.top_risks) or (f'<tr><td colspan="6">No open agreement has a risk scored '
                                     f'{report.risk_threshold} or more.</td></tr>')


def _more_risks(report: BoardReport) -> str:
    more = report.risks_at_threshold - len(report.top_risks)
    return f"<p>and {more} more risks scored {report.risk_threshold} or more.</p>" if more > 0 else ""


def _lesson_rows(report: BoardReport) -> str:
    return _rows((
        r["recorded_at"].strftime("%Y-%m-%d"), f'{escape(r["agreement_id"])} {escape(r["title"])}',
        str(r["review_number"]), escape(r["what_worked"] or ""), escape(r["what_did_not"] or ""),
        escape(", ".join(r["tags"])),
    ) for r in report.recent_lessons) or '<tr><td colspan="6">No lessons have been recorded yet.</td></tr>'


def chromium() -> str:
    """The path of Debian's Chromium; raises FileNotFoundError, saying how to install it, if there is none."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise FileNotFoundError("Chromium is needed to print the report to PDF: sudo apt-get install chromium")
    return found


def _headless(*arguments: str) -> None:
    with tempfile.TemporaryDirectory(prefix="concordat-chromium-") as profile:
        subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        f"--user-data-dir={profile}", *arguments], check=True, capture_output=True, timeout=120)


def pdf(html_file: Path, pdf_file: Path) -> None:
    """Print the HTML report to ``pdf_file`` with headless Chromium (A4, as the browser prints it)."""
    _headless("--no-pdf-header-footer", f"--print-to-pdf={pdf_file}", html_file.resolve().as_uri())


def screenshot(html_file: Path, png_file: Path, width: int = 1180, height: int = 1500) -> None:
    """A picture of the report's first screen, as an officer's browser shows it."""
    _headless(f"--window-size={width},{height}", f"--screenshot={png_file}", html_file.resolve().as_uri())
