"""The board's report and the read model: every figure is the ledger's.

Each test writes into its own database (the report covers a whole ledger), migrated to today's schema:
the demo portfolio played by its officers on the time-skipping server, and 110 agreements between real
councils from ../shared/data written by the domain's rules (``tests/helpers/council_portfolio.py``).
"""

from __future__ import annotations

import io
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
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


async def test_the_report_for_over_a_hundred_agreements_between_real_councils_is_the_ledgers(ledger_pool, tmp_path):
    ids = await council_portfolio.write(ledger_pool, 110)
    content = await data.read(ledger_pool, council_portfolio.NOW)
    assert [a.agreement_id for a in content.agreements] == sorted(ids) and len(ids) == 110
    assert {"proposal", "sign_off", "review"} <= set(content.by_stage)
    assert content.savings_over_time and content.sign_off_cycles and content.recent_lessons
    await check_against_the_ledger(ledger_pool, content)
    # The last point of the cumulative chart is the portfolio's total to date.
    assert content.savings_over_time[-1][2] == content.realised_total
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
    written = await build(ledger_pool, tmp_path, with_pdf=CHROMIUM is not None)
    assert "H3 Hampshire business centre" in written[0].read_text()
