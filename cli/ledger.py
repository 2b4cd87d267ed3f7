"""``starter.py ledger``, ``story`` and ``verify``: an agreement's decisions from the ledger, and the proof that
nobody changed them (its hash chain, anchored to the workflow's own record, and its attestations)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from rich.console import Console
from rich.markup import escape
from temporalio.client import Client
from temporalio.service import RPCError

from cli.errors import EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_UNREACHABLE, CliError
from cli.output import print_json, print_table, when
from cli.sdk import cli_runtime
from domain.ledger import ChainHead, ChainVerification, LedgerEntry
from domain.proof import AttestationReport
from domain.story import StoryLine, story
from runtime.settings import Settings
from runtime.temporal import connect_temporal
from store.database import create_pool
from store.ledger import agreement_ids, has_decisions, read_ledger, verify_ledger
from workflows.client import AgreementClient, AgreementError, AgreementRecordGone, candidate_ids


class TemporalUnreadable(str):
    """Why an agreement's chain could not be anchored when the cause is an outage (Temporal unreachable or not
    answering), not a history that is gone: ``verify`` then exits 3, the chain unproven against its workflow."""


Anchors = dict[str, tuple[ChainHead, bool] | str]
"""Where each agreement's workflow says its chain ends (and whether an operator terminated it) or, where Temporal
cannot say, why not."""


async def ledger_pool(settings: Settings) -> Any:
    """A small pool on the ledger's database; ``CliError`` when it is not configured (2) or unreachable (3)."""
    if not settings.database_url:
        raise CliError("DATABASE_URL is not set: the ledger lives in PostgreSQL", EXIT_BAD_INPUT)
    try:
        return await create_pool(settings.database_url, max_size=2)
    except (OSError, Exception) as error:  # asyncpg raises several unrelated types here
        raise CliError(f"cannot reach the ledger database: {error}", EXIT_UNREACHABLE) from None


async def _ledger_ids(pool: Any, names: list[str]) -> list[str]:
    """The agreement ids named, each given as an agreement id or as the Web UI's workflow id."""
    ids = []
    for name in names:
        found = [candidate for candidate in candidate_ids(name)
                 if await has_decisions(pool, candidate)]
        ids.append(found[0] if found else name)
    return ids


async def _verified_entries(settings: Settings, name: str) -> tuple[list[LedgerEntry], ChainVerification, Anchors]:
    """The agreement's ledger entries (none if its chain is broken), the chain's verification, and where the
    agreement's workflow says the chain ends (or why it cannot say). ``name`` is an agreement or workflow id."""
    pool = await ledger_pool(settings)
    try:
        [agreement_id] = await _ledger_ids(pool, [name])
        anchors = await _anchors(settings, [agreement_id])
        verification = await _verify_anchored(pool, anchors, agreement_id)
        entries = await read_ledger(pool, agreement_id) if verification.valid else []
    finally:
        await pool.close()
    _require_decisions(verification)
    return entries, verification, anchors


def _require_decisions(verification: ChainVerification) -> None:
    if verification.entries == 0:
        raise CliError(f"the ledger holds no decisions for agreement {verification.agreement_id}")


async def show_ledger(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """The agreement's decisions with their hashes, and whether its hash chain holds (exit 1 when not)."""
    entries, verification, anchors = await _verified_entries(settings, args.agreement_id)
    if args.json:
        print_json(console, {"entries": [e.model_dump(mode="json") for e in entries],
                             "verification": verification.model_dump(mode="json")})
    else:
        print_table(console, verification.agreement_id, ["#", "Decided", "Stage", "Decision", "By", "What", "Hash"],
                    [[str(line.seq), when(line.at), line.stage.label, e.kind, line.who or "-",
                      line.what + (f": {line.why}" if line.why else ""), e.hash[:12]]
                     for e, line in zip(entries, story(entries), strict=True)])
        _print_verification(console, verification, anchors)
    return 0 if verification.valid else EXIT_REFUSED


async def show_story(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """The agreement's decisions told in order: in a terminal as sentences, in a pipe as a table."""
    entries, verification, anchors = await _verified_entries(settings, args.agreement_id)
    lines = story(entries)
    if args.json:
        print_json(console, {"story": [line.model_dump(mode="json") for line in lines],
                             "verification": verification.model_dump(mode="json")})
        return 0 if verification.valid else EXIT_REFUSED
    if console.is_terminal:
        _print_sentences(console, lines)
    else:
        print_table(console, verification.agreement_id, ["When", "Stage", "Who", "What", "Why"],
                    [[when(line.at), line.stage.label, line.who or "-", line.what, line.why or "-"] for line in lines])
    _print_verification(console, verification, anchors)
    return 0 if verification.valid else EXIT_REFUSED


def _print_sentences(console: Console, lines: list[StoryLine]) -> None:
    for line in lines:
        who = f"{line.who} " if line.who else ""
        why = f" ({line.why})" if line.why else ""
        console.print(f"{when(line.at)}  [bold]{escape(who)}[/bold]{escape(line.what)}{escape(why)}", highlight=False)


async def _anchors(settings: Settings, agreement_ids: list[str]) -> Anchors:
    """Where each agreement's workflow says its chain ends or, where Temporal cannot say, why not.

    The database alone cannot show rows cut off the end of a chain; the workflow's own record can.
    """
    try:
        client = await asyncio.wait_for(connect_temporal(runtime=cli_runtime(), settings=settings), timeout=10)
    except (RuntimeError, TimeoutError):
        return dict.fromkeys(agreement_ids, TemporalUnreadable("Temporal could not be reached"))
    agreements = AgreementClient(client, settings.task_queue)
    return {agreement_id: await _anchor(agreements, agreement_id) for agreement_id in agreement_ids}


async def _anchor(agreements: AgreementClient, agreement_id: str) -> tuple[ChainHead, bool] | str:
    try:
        return await agreements.ledger_anchor(agreement_id)
    except AgreementRecordGone:
        return "Temporal no longer holds the agreement's record (past its retention period)"
    except AgreementError as error:
        return str(error)
    except RPCError as error:
        return TemporalUnreadable(f"Temporal did not answer: {error.message}")


async def _verify_anchored(pool: Any, anchors: Anchors, agreement_id: str) -> ChainVerification:
    """The agreement's chain verified against its workflow's head where Temporal knows it (the reconciler's
    closing rows allowed past it when the workflow was terminated), else from the ledger alone."""
    anchor = anchors.get(agreement_id)
    head, terminated = anchor if isinstance(anchor, tuple) else (None, False)
    return await verify_ledger(pool, agreement_id, head, terminated=terminated)


def _print_verification(console: Console, verification: ChainVerification, anchors: Anchors) -> None:
    if verification.valid:
        anchor = anchors.get(verification.agreement_id)
        note = (" and matches the agreement's workflow" if isinstance(anchor, tuple)
                else f"; the ledger alone was checked, it could not be anchored to the workflow: {anchor}")
        console.print(f"[green]hash chain verified[/]: {verification.agreement_id}, "
                      f"{verification.entries} decisions{note}")
    else:
        console.print(f"[bold red]hash chain BROKEN[/]: {verification.agreement_id} at decision "
                      f"#{verification.first_bad_seq}: {verification.problem}")


async def _verified_ledgers(
    settings: Settings, names: list[str]
) -> tuple[list[ChainVerification], list[list[LedgerEntry]], Anchors]:
    """Each named agreement's chain verification and entries (every agreement in the ledger when ``names`` is
    empty), and the anchors they were checked against."""
    pool = await ledger_pool(settings)
    try:
        ids = await _ledger_ids(pool, names) if names else await agreement_ids(pool)
        anchors = await _anchors(settings, ids)
        results = [await _verify_anchored(pool, anchors, agreement_id) for agreement_id in ids]
        ledgers = [await read_ledger(pool, agreement_id) for agreement_id in ids]
    finally:
        await pool.close()
    for result in results:
        _require_decisions(result)
    return results, ledgers, anchors


async def verify(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """Verify each agreement's hash chain, and every attestation its ledger keeps (naming the first row that
    fails) with the attestor keys configured, or else those the ledger records."""
    if not args.agreement_ids and not args.all:
        raise CliError("name one or more agreements, or pass --all", EXIT_BAD_INPUT)
    results, ledgers, anchors = await _verified_ledgers(settings, args.agreement_ids)
    keys = settings.trusted_attestor_keys()
    proofs = _attestations(results, ledgers, keys)
    if args.json:
        print_json(console, [{**result.model_dump(mode="json"), "attestations": proof.model_dump(mode="json")}
                             for result, proof in zip(results, proofs, strict=True)])
    else:
        for result, proof in zip(results, proofs, strict=True):
            _print_verification(console, result, anchors)
            _print_attestations(console, proof, trusted=keys is not None)
    if not (all(r.valid for r in results) and all(p.valid for p in proofs)):
        return EXIT_REFUSED
    if any(isinstance(anchors.get(r.agreement_id), TemporalUnreadable) for r in results):
        Console(stderr=True, soft_wrap=True).print(
            "error: the ledger's chains hold, but Temporal could not be read to anchor them to their workflows "
            "(rows cut off a chain's end would not show): run verify again once Temporal answers", markup=False)
        return EXIT_UNREACHABLE
    return 0


def _attestations(results: list[ChainVerification], ledgers: list[list[LedgerEntry]],
                  keys: dict[str, str] | None) -> list[AttestationReport]:
    """Each ledger's attestations checked with ``keys`` or, when None, with the keys the ledger records."""
    from domain.proof import recorded_keys, verify_attestations

    return [verify_attestations(result.agreement_id, entries, keys if keys is not None else recorded_keys(entries))
            for result, entries in zip(results, ledgers, strict=True)]


def _print_attestations(console: Console, proof: AttestationReport, *, trusted: bool) -> None:
    if not proof.checked or (not proof.attested and proof.valid and not proof.required):
        unchecked = (f"; {proof.attested} attested actions not checked (no attestor keys: set "
                     "CONCORDAT_ATTESTOR_KEYS)") if proof.attested else ""
        console.print(f"attestations: not required by {proof.agreement_id}{unchecked}", markup=False)
        return
    if not proof.valid:
        console.print(f"[bold red]attestation FAILS[/]: {proof.agreement_id} at decision #{proof.first_bad_seq}: "
                      f"{proof.problem}")
        return
    source = ("the attestor keys configured (CONCORDAT_ATTESTOR_KEYS)" if trusted else
              "the keys the ledger itself records (set CONCORDAT_ATTESTOR_KEYS to check without trusting the database)")
    console.print(f"[green]attestations verified[/]: {proof.agreement_id}, {proof.attested} attested actions, "
                  f"with {source}")
