"""The decision ledger's hash chain: linked in order, and any later edit is found and located."""

from datetime import timedelta, timezone

import pytest

from domain.ledger import GENESIS, ChainHead, Decision, LedgerEntry, chain, entry_hash, verify
from domain.lifecycle import evolve, open_agreement
from domain.model import Stage
from tests.helpers import factories
from tests.helpers.builders import SIGNATORIES, T0, after, approve, send_for_sign_off, set_objectives, submit

AGREEMENT = "waste-2027"


def decisions() -> list[Decision]:
    """The real decisions of an agreement from opening to implementation: ten of them."""
    opening = open_agreement(factories.request(AGREEMENT), T0)
    agreement, recorded = opening.agreement, list(opening.decisions)
    steps = [submit(), set_objectives(), send_for_sign_off(), *(approve(actor) for actor in SIGNATORIES)]
    for day, action in enumerate(steps, start=1):
        transition = evolve(agreement, action, after(day))
        agreement, recorded = transition.agreement, recorded + transition.decisions
    return recorded


@pytest.fixture
def ledger() -> list[LedgerEntry]:
    return chain(AGREEMENT, ChainHead(), decisions())


def altered(entry: LedgerEntry, **changes) -> LedgerEntry:
    return entry.model_copy(update=changes)


def hash_fields(entry: LedgerEntry) -> dict:
    return entry.model_dump(exclude={"hash"})


def test_chain_numbers_entries_from_one_and_links_each_to_the_one_before(ledger):
    assert [e.seq for e in ledger] == list(range(1, 11))
    assert [e.prev_hash for e in ledger] == [GENESIS] + [e.hash for e in ledger[:-1]]
    assert ledger[0].kind == "agreement_opened" and ledger[-1].payload == {
        "from": "sign_off", "to": "implementation", "reason": "every partner has approved"}


def test_each_entry_hash_covers_its_content_and_link(ledger):
    assert all(e.hash == entry_hash(**hash_fields(e)) for e in ledger)


def test_chaining_in_batches_after_the_head_gives_the_same_chain(ledger):
    first = chain(AGREEMENT, ChainHead(), decisions()[:4])
    rest = chain(AGREEMENT, ChainHead(seq=first[-1].seq, hash=first[-1].hash), decisions()[4:])
    assert first + rest == ledger


def test_an_untouched_chain_verifies(ledger):
    result = verify(AGREEMENT, ledger)
    assert (result.valid, result.entries, result.first_bad_seq, result.problem) == (True, 10, None, None)


def test_an_altered_payload_is_found_at_its_row(ledger):
    assert ledger[7].payload == {"decision": "approve", "reason": ""}
    ledger[7] = altered(ledger[7], payload={"decision": "reject", "reason": "on reflection"})
    result = verify(AGREEMENT, ledger)
    assert (result.valid, result.first_bad_seq) == (False, 8)
    assert result.problem == "its content does not match its hash (the row was altered)"


def test_an_altered_link_is_found_at_its_row(ledger):
    ledger[2] = altered(ledger[2], prev_hash="f" * 64)
    result = verify(AGREEMENT, ledger)
    assert (result.valid, result.first_bad_seq) == (False, 3)
    assert "link to the previous row does not match" in result.problem


def test_an_edit_with_a_recomputed_hash_breaks_the_next_rows_link(ledger):
    forged = altered(ledger[4], decided_at=ledger[4].decided_at - timedelta(days=30))
    ledger[4] = altered(forged, hash=entry_hash(**hash_fields(forged)))
    result = verify(AGREEMENT, ledger)
    assert (result.valid, result.first_bad_seq) == (False, 6)


def test_a_missing_row_is_found_at_the_row_after_the_gap(ledger):
    del ledger[2]
    result = verify(AGREEMENT, ledger)
    assert (result.valid, result.first_bad_seq, result.entries) == (False, 4, 3)
    assert result.problem == "expected sequence number 3, found 4 (a row is missing)"


def test_a_missing_row_renumbered_over_is_found_by_its_broken_link(ledger):
    del ledger[2]
    ledger[2:] = [altered(e, seq=e.seq - 1) for e in ledger[2:]]
    result = verify(AGREEMENT, ledger)
    assert (result.valid, result.first_bad_seq) == (False, 3)


def test_reordered_rows_are_found_at_the_first_row_out_of_place(ledger):
    ledger[5], ledger[6] = ledger[6], ledger[5]
    result = verify(AGREEMENT, ledger)
    assert (result.valid, result.first_bad_seq) == (False, 7)
    assert result.problem.startswith("expected sequence number 6, found 7")


def test_entry_hash_is_stable_for_equal_content_and_ignores_key_order():
    fields = {"agreement_id": AGREEMENT, "seq": 1, "prev_hash": GENESIS, "kind": "signed_off",
              "stage": Stage.SIGN_OFF, "actor_body": factories.TAMWORTH, "actor_signatory": "Owen Hughes",
              "decided_at": T0}
    one = entry_hash(**fields, payload={"decision": "approve", "detail": {"round": 1, "note": "ok"}})
    other = entry_hash(**dict(reversed(fields.items())), payload={"detail": {"note": "ok", "round": 1},
                                                                  "decision": "approve"})
    assert one == other and len(one) == 64
    assert entry_hash(**fields, payload={"decision": "reject"}) != one


def test_entry_hash_depends_on_the_instant_not_the_time_zone_it_is_written_in():
    fields = {"agreement_id": AGREEMENT, "seq": 1, "prev_hash": GENESIS, "kind": "withdrawn", "stage": "proposal",
              "actor_body": None, "actor_signatory": None, "payload": {}}
    in_paris = T0.astimezone(timezone(timedelta(hours=2)))
    assert entry_hash(**fields, decided_at=T0) == entry_hash(**fields, decided_at=in_paris)
    assert entry_hash(**fields, decided_at=T0) != entry_hash(**fields, decided_at=T0 + timedelta(microseconds=1))
