"""The board's report and the read model: every figure is the ledger's.

Each test writes into its own database (the report covers a whole ledger), migrated to today's schema:
the demo portfolio played by its officers on the time-skipping server, and 110 agreements between real
councils from ../shared/data written by the domain's rules (``tests/helpers/council_portfolio.py``).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from rich.console import Console
from temporalio.testing import WorkflowEnvironment

import starter
from demo.portfolio import PORTFOLIO, next_step
from domain.model import Stage
from report import data, render
from report.__main__ import build
from store.database import create_pool, migrate
from store.ledger import read_ledger, verify_ledger
from store.read_model import AgreementLine
from tests.helpers import council_portfolio
from tests.helpers.harness import Harness
from workflows.agreement import AgreementWorkflow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
async def ledger_dsn(postgres_dsn: str) -> str:
    """A database of its own."""
    name = f"report_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return urlunsplit(urlsplit(postgres_dsn)._replace(path=f"/{name}"))


@pytest.fixture
async def ledger_pool(ledger_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a database of its own, migrated."""
    pool = await create_pool(ledger_dsn)
    await migrate(pool)
    yield pool
    await pool.close()


async def check_against_the_ledger(pool: asyncpg.Pool, content: data.BoardReport) -> None:
    """Each agreement's stage and savings, the totals, the top risk and the RAG counts, read again from the
    decisions themselves (``read_ledger``), whose hash chains verify."""
    realised = Decimal(0)
    top_scores = []
    for line in content.agreements:
        assert (await verify_ledger(pool, line.agreement_id)).valid
        entries = await read_ledger(pool, line.agreement_id)
        assert line.stage == entries[-1].stage.value
        benefits = [e for e in entries if e.kind == "benefits_recorded"]
        position = benefits[-1].payload["position"] if benefits else None
        assert line.cumulative_saving == (Decimal(position["cumulative_saving"]) if position else None)
        assert line.cumulative_planned == (Decimal(position["cumulative_planned"]) if position else None)
        assert line.forecast_rag == (position["forecast_rag"] if position else None)
        realised += Decimal(position["cumulative_saving"]) if position else Decimal(0)
        registers = [e.payload["risks"] if e.kind == "risks_reviewed" else e.payload["proposal"]["risks"]
                     for e in entries if e.kind in ("risks_reviewed", "agreement_opened", "proposal_revised")]
        if line.stage != Stage.CLOSED.value:
            top_scores += [risk["likelihood"] * risk["impact"] for risk in registers[-1]]
        submitted = [e for e in entries if e.kind == "proposal_submitted"]
        preferred = [a for a in submitted[-1].payload["appraisal"] if a["preferred"]] if submitted else []
        assert line.preferred_npv == (Decimal(preferred[0]["net_present_value"]) if preferred else None)
    assert content.realised_total == realised
    at_threshold = sorted((score for score in top_scores if score >= content.risk_threshold), reverse=True)
    assert [r["score"] for r in content.top_risks] == at_threshold[:50]
    assert content.risks_at_threshold == len(at_threshold)
    ids = [a.agreement_id for a in content.agreements]
    # Amber and red by stage counts agreements: each (agreement, stage) once, from its alerts and each review's
    # last benefit RAG.
    pairs = await pool.fetchval("""SELECT count(*) FROM (
        SELECT agreement_id, stage FROM alerts WHERE agreement_id = ANY($1::text[])
        UNION
        SELECT agreement_id, stage FROM (
            SELECT DISTINCT ON (agreement_id, payload->>'review_number') agreement_id, stage,
                   payload->'position'->>'rag' AS rag
            FROM decisions WHERE kind = 'benefits_recorded' AND agreement_id = ANY($1::text[])
            ORDER BY agreement_id, payload->>'review_number', seq DESC) latest
        WHERE rag IN ('amber', 'red')) pairs""", ids)
    assert sum(sum(levels.values()) for levels in content.rag_by_stage.values()) == pairs
    assert sum(content.by_stage.values()) == len(ids)
    await check_the_summary_against_the_ledger(pool, content)


async def check_the_summary_against_the_ledger(pool: asyncpg.Pool, content: data.BoardReport) -> None:
    """The executive summary's figures worked again from each agreement's decisions: savings planned to the
    report's date (its latest review's cumulative plan, plus the expected saving pro rata, days / 365, since that
    review's period ended, or since going live for an agreement that never reported; each second counting as
    the agreement's time scale, for a demonstration in compressed time), realised, and the red and amber
    agreements now and a quarter before."""
    planned = realised = Decimal(0)
    now: dict[str, int] = {"red": 0, "amber": 0}
    before: dict[str, int] = {"red": 0, "amber": 0}
    quarter_ago = content.generated_at - timedelta(days=91)
    for line in content.agreements:
        entries = await read_ledger(pool, line.agreement_id)
        proposals = [e.payload["proposal"] for e in entries if e.kind in ("agreement_opened", "proposal_revised")]
        expected = Decimal(proposals[-1]["expected_annual_saving"])
        scale = entries[0].payload["settings"].get("time_scale", 1)
        live = [e.decided_at for e in entries if e.kind == "stage_changed" and e.payload["to"] == "review"]
        closed = [e.decided_at for e in entries if e.kind == "stage_changed" and e.payload["to"] == "closed"]
        benefits = [e for e in entries if e.kind == "benefits_recorded"]
        if live:
            end = min([content.generated_at, *closed])
            start = datetime.fromisoformat(benefits[-1].payload["position"]["period_end"]) if benefits else live[0]
            seconds = Decimal(int(max(end - start, timedelta(0)).total_seconds()) * scale)
            extra = (expected * seconds / Decimal(365 * 86400)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            planned += extra + (Decimal(benefits[-1].payload["position"]["cumulative_planned"]) if benefits else 0)
        for counts, recorded in ((now, benefits), (before, [b for b in benefits if b.decided_at <= quarter_ago])):
            if recorded:
                rags = {recorded[-1].payload["position"]["rag"], recorded[-1].payload["position"]["forecast_rag"]}
                worst = "red" if "red" in rags else "amber" if "amber" in rags else None
                if worst:
                    counts[worst] += 1
        realised += Decimal(benefits[-1].payload["position"]["cumulative_saving"]) if benefits else Decimal(0)
    assert (content.planned_to_date_total, content.realised_total) == (planned, realised)
    assert content.rag_counts() == now and content.rag_counts(last_quarter=True) == before
    assert {e.agreement_id for e in content.exceptions if e.level in ("red", "amber")} == {
        a.agreement_id for a in content.agreements if "red" in (a.benefit_rag, a.forecast_rag)
        or "amber" in (a.benefit_rag, a.forecast_rag)}


async def test_the_report_for_over_a_hundred_agreements_between_real_councils_is_the_ledgers(ledger_pool, tmp_path):
    ids = await council_portfolio.write(ledger_pool, 110)
    content = await data.read(ledger_pool, council_portfolio.NOW)
    assert [a.agreement_id for a in content.agreements] == sorted(ids) and len(ids) == 110
    assert {"proposal", "sign_off", "review"} <= set(content.by_stage)
    assert content.savings_over_time and content.sign_off_cycles and content.recent_lessons
    await check_against_the_ledger(ledger_pool, content)
    # The last point of the cumulative chart is the portfolio's total to date, and every point is what the
    # agreements' latest reviews up to it add up to (read again, one period end at a time).
    assert content.savings_over_time[-1][2] == content.realised_total
    for period_end, planned, realised in content.savings_over_time:
        latest = await ledger_pool.fetchrow("""SELECT coalesce(sum(cumulative_planned), 0) AS planned,
                                                      coalesce(sum(cumulative_saving), 0) AS realised
            FROM (SELECT DISTINCT ON (agreement_id) * FROM rm_savings WHERE period_end <= $1
                  ORDER BY agreement_id, review_number DESC) latest""", period_end)
        assert (planned, realised) == (latest["planned"], latest["realised"])
    page = render.html(content)
    assert page.count('src="data:image/png;base64,') == 5
    assert all(line.title.split(":")[0] in page for line in content.agreements)
    lead = content.agreements[0]
    lead_body = await ledger_pool.fetchval("SELECT lead_body FROM rm_agreements WHERE agreement_id = $1",
                                           lead.agreement_id)
    one_body = await data.read(ledger_pool, council_portfolio.NOW, lead_body=lead_body)
    assert lead.agreement_id in [a.agreement_id for a in one_body.agreements]
    assert {a.lead_body_name for a in one_body.agreements} == {lead.lead_body_name}
    with pytest.raises(LookupError, match="E99999999 leads no agreement"):
        await data.read(ledger_pool, council_portfolio.NOW, lead_body="E99999999")
    if CHROMIUM is not None:
        written = await build(ledger_pool, tmp_path, now=council_portfolio.NOW)
        assert [p.name for p in written] == ["board-report.html", "board-report.pdf"]
        assert written[1].read_bytes().startswith(b"%PDF")


async def test_the_summary_for_a_thousand_agreements_between_real_councils_is_the_ledgers(ledger_pool, tmp_path):
    """A thousand agreements (councils sharing several services): the executive summary's figures worked again
    from every agreement's decisions, and the report's length bounded (exceptions in full, the rest counted)."""
    ids = await council_portfolio.write(ledger_pool, 1000)
    content = await data.read(ledger_pool, council_portfolio.NOW)
    assert len(content.agreements) == len(set(ids)) == 1000
    await check_the_summary_against_the_ledger(ledger_pool, content)
    assert content.realised_total == sum((a.cumulative_saving or Decimal(0) for a in content.agreements), Decimal(0))
    page = render.html(content)
    exceptions = {e.agreement_id for e in content.exceptions}
    table = page[page.index("Agreements, exceptions first"):page.index("Savings planned and realised")]
    assert all(f">{agreement_id}</span></td>" in table for agreement_id in exceptions)
    assert table.count("<tr>") == 1 + len(exceptions) + render.SHOWN_ON_TRACK + 1
    assert f"and {1000 - len(exceptions) - render.SHOWN_ON_TRACK} more agreements with no exception" in table


async def test_the_read_model_answers_the_documented_questions(ledger_pool, ledger_dsn, monkeypatch, tmp_path):
    await council_portfolio.write(ledger_pool, 12)
    # Savings planned and realised per lead body (the integrators' guide, "The read model").
    rows = await ledger_pool.fetch("""
        SELECT a.lead_body_name, sum(s.cumulative_planned) AS planned, sum(s.cumulative_saving) AS realised
        FROM rm_agreements a
        JOIN rm_latest_savings s USING (agreement_id)
        GROUP BY a.lead_body_name ORDER BY realised DESC""")
    assert rows and all(row["planned"] > 0 for row in rows)
    risks = await ledger_pool.fetch("SELECT score, likelihood, impact FROM rm_risks ORDER BY score DESC LIMIT 5")
    assert all(r["score"] == r["likelihood"] * r["impact"] for r in risks)
    lessons = await ledger_pool.fetch("SELECT * FROM rm_lessons WHERE 'governance' = ANY(tags)")
    assert all("governance" in row["tags"] for row in lessons)
    visits = await ledger_pool.fetch("SELECT stage, time_in_stage FROM rm_stage_visits WHERE left_at IS NOT NULL")
    assert all(v["time_in_stage"] >= timedelta(0) for v in visits)
    # The command line lists the lessons across the portfolio, and writes the report.
    monkeypatch.setenv("DATABASE_URL", ledger_dsn)
    out = io.StringIO()
    assert await starter.run_cli(["lessons", "--tag", "governance", "--json"], console=Console(file=out)) == 0
    listed = json.loads(out.getvalue())
    assert [row["agreement_id"] for row in listed] == [row["agreement_id"] for row in sorted(
        lessons, key=lambda row: (-row["recorded_at"].timestamp(), row["agreement_id"], -row["seq"]))]
    assert listed and all("governance" in row["tags"] for row in listed)
    out = io.StringIO()
    code = await starter.run_cli(["report", "--out", str(tmp_path), "--no-pdf"], console=Console(file=out))
    assert code == 0 and (tmp_path / "board-report.html").is_file()
    assert await starter.run_cli(["report", "--lead-body", "E99999999", "--no-pdf", "--out", str(tmp_path)]) == 2


async def test_the_report_renders_for_the_demo_portfolio_played_by_its_officers(
        env: WorkflowEnvironment, ledger_pool, tmp_path):
    async with Harness.running(env, ledger_pool) as harness:
        for persona in PORTFOLIO:
            persona = replace(persona, agreement_id=harness.new_id(persona.agreement_id))
            handle = await harness.start(persona.request(speed=1))
            for _ in range(400):
                status = await handle.query(AgreementWorkflow.status)
                if status.stage is Stage.CLOSED:
                    break
                step = next_step(persona, status, await env.get_current_time())
                if step is None:
                    await harness.skip(timedelta(seconds=2))
                else:
                    await handle.execute_update(step[0], step[1])
            assert status.stage is Stage.CLOSED, (persona.agreement_id, status.stage)
    content = await data.read(ledger_pool, await env.get_current_time())
    assert len(content.agreements) == len(PORTFOLIO)
    assert all(a.cumulative_saving is not None for a in content.agreements)
    assert content.recent_lessons
    assert content.top_risks == []  # every demo agreement has closed at the end of its term: no risk is open
    await check_against_the_ledger(ledger_pool, content)
    forecasts = {a.title: a.forecast_rag for a in content.agreements}
    assert forecasts["H3 Hampshire business centre"] == "red"   # 30% of the expected saving realised
    # Money at real scale: each compressed review period stands for a quarter, so Lichfield and Tamworth's
    # first review realises about a quarter of 95% of £500,000 a year, not pennies.
    waste = next(a for a in content.agreements if a.title.startswith("Lichfield and Tamworth"))
    assert waste.time_scale == 393120 and waste.cumulative_saving is not None
    assert waste.cumulative_saving > Decimal("100000.00")
    written = await build(ledger_pool, tmp_path, with_pdf=CHROMIUM is not None)
    page = written[0].read_text()
    assert "H3 Hampshire business centre" in page and "Time is compressed." in page


def _line(agreement_id: str, **figures: object) -> AgreementLine:
    base: dict[str, object] = dict(
        agreement_id=agreement_id, title=f"Title of {agreement_id}", lead_body_name="Lichfield District Council",
        stage="review", expected_annual_saving=Decimal("500000.00"), cumulative_planned=Decimal("125000.00"),
        cumulative_saving=Decimal("125000.00"), benefit_rag="green", forecast_rag="green",
        forecast_payback_at=None, planned_payback_at=None, preferred_npv=Decimal("-19091263.17"),
        lead_body="E07000194", went_live_at=datetime(2027, 1, 1, tzinfo=UTC), period_end=None,
        annual_saving_realised=Decimal("500000.00"), paid_back=False, preferred_npsv=Decimal("-128043.19"))
    return AgreementLine(**(base | figures))  # type: ignore[arg-type]  # the test's own figures, typed above


def test_the_report_leads_with_the_exceptions_and_writes_money_as_a_finance_officer_does():
    at = datetime(2028, 1, 1, tzinfo=UTC)
    lines = [
        _line("a-on-track", paid_back=True),
        _line("b-red", benefit_rag="red", annual_saving_realised=Decimal("100000.00"), forecast_rag="red"),
        _line("c-silent", cumulative_planned=None, cumulative_saving=None, benefit_rag=None, forecast_rag=None,
              annual_saving_realised=None, paid_back=None),
        _line("d-amber", forecast_rag="amber", forecast_payback_at=datetime(2028, 6, 1, tzinfo=UTC),
              planned_payback_at=datetime(2028, 3, 1, tzinfo=UTC)),
    ]
    content = data.BoardReport(lead_body=None, lead_body_name=None, generated_at=at, agreements=lines,
                               by_stage={"review": 4}, risk_threshold=15, risks_at_threshold=3, top_risks=[])
    assert [(e.agreement_id, e.level) for e in content.exceptions] == [
        ("b-red", "red"), ("d-amber", "amber"), ("c-silent", "unreported")]
    red = content.exceptions[0]
    assert red.what == "saving £400,000.00 a year short of plan (red); no payback in sight (red)"
    assert red.owner == "Lichfield District Council"
    assert content.exceptions[1].what == "payback forecast 92 days after plan (amber)"
    page = render.html(content)
    summary, agreements = page.index("Executive summary"), page.index("Agreements, exceptions first")
    assert summary < page.index("b-red") < agreements
    table = page[agreements:]
    assert table.index("b-red") < table.index("d-amber") < table.index("c-silent") < table.index("a-on-track")
    assert "−£128,043.19" in page and "£-" not in page
    assert "paid back" in table and "no payback" in table and "not yet reported" in table
    assert "and 3 more risks scored 15 or more" in page
    assert page.count("<thead>") == 3
    # Plan to date counts the silent agreement too: 500,000 x 365 / 365 from 1 January 2027.
    assert data.planned_to_date(lines[2], at) == Decimal("500000.00")
    assert data.money(Decimal("-1234.56")) == "−£1,234.56" and data.money(Decimal("0")) == "£0.00"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_the_pdf_is_a4(tmp_path):
    lines = [_line(f"agreement-{n:03d}", benefit_rag="red") for n in range(60)]
    content = data.BoardReport(lead_body=None, lead_body_name=None, generated_at=datetime(2028, 1, 1, tzinfo=UTC),
                               agreements=lines, by_stage={"review": 60})
    page = tmp_path / "report.html"
    page.write_text(render.html(content), encoding="utf-8")
    render.pdf(page, tmp_path / "report.pdf")
    printed = (tmp_path / "report.pdf").read_bytes()
    sizes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", printed)
    assert len(sizes) > 1 and all(abs(float(w) - 595.92) < 1 and abs(float(h) - 842.88) < 1 for w, h in sizes)
