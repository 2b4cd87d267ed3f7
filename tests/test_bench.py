"""The benchmark lives outside the suite, but runs here at a tiny size so that it cannot rot."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

pytestmark = pytest.mark.dev_server

ROOT = Path(__file__).resolve().parent.parent


async def test_the_benchmark_runs_every_measure_at_a_tiny_size(
    env: WorkflowEnvironment, postgres_dsn: str, tmp_path: Path
):
    out = tmp_path / "bench.json"
    environ = {**os.environ, "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
           "DATABASE_URL": postgres_dsn}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", "--quick", "--scale", "2", "--json", str(out),
        cwd=ROOT, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    text = output.decode()
    assert process.returncode == 0, text
    assert "Concordat against the Temporal floor" in text and "benchmarking on the Temporal at" in text

    results = json.loads(out.read_text())
    assert set(results["targets"]) == {"lifecycle", "lifecycle_local", "starts", "updates_under_load", "sign_off_p50",
                                       "sign_off_p95", "deadline_burst", "ledger_writes"}
    assert all(check["ratio"] > 0 for check in results["targets"].values())
    assert results["lifecycle"]["updates_per_lifecycle"] >= 10
    history = results["history"]
    assert history["events_per_lifecycle"] > history["events_per_review_cycle"] > 0
    assert history["concordat_tasks_per_update"] == history["local_floor_tasks_per_update"] == 1, \
        "an update is answered in the workflow task that accepts it"
    assert history["floor_tasks_per_update"] == 2 and results["lifecycle"]["local_floor_per_s"] > 0
    assert results["sign_off_latency_ms"]["samples"] == 4
    assert results["starts"]["agreements"] == 4
    assert results["updates_under_load"]["agreements"] == 3 and results["updates_under_load"]["updates"] >= 3 * 5
    assert results["deadline_burst"]["agreements"] == 4 and results["deadline_burst"]["margin_s"] > 5
    assert results["history"]["ledger_rows_per_review_cycle"] > 0
    assert results["ledger_writes"]["decisions"] == 80
    assert results["memory"]["sticky_cache_size"] > 0 and "4" in results["memory"]["kb_per_open_agreement"]
    assert results["memory"]["floor_kb_per_open_workflow"] is not None and results["memory"]["updates_to_sign_off"] == 3
    assert results["scale"]["agreements_in_review"] == 2 and len(results["scale"]["reviews_fall_due"]) == 1
    assert results["machine"]["temporalio"]
    assert results["report"]["5"]["database_s"] > 0 and results["report"]["5"]["html_bytes"] > 0

    quoted = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench", "--markdown", str(out), cwd=ROOT, stdout=asyncio.subprocess.PIPE)
    table, _ = await asyncio.wait_for(quoted.communicate(), timeout=60)
    lines = table.decode().splitlines()
    assert quoted.returncode == 0
    assert lines[0] == "| Measure | Concordat | Floor | Ratio | Local floor | Local ratio | Target |"
    assert any(line.startswith("| Lifecycles/s") and line.count("|") == 8 for line in lines), lines
