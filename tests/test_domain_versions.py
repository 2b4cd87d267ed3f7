"""The versions partners sign, rebuilt from the ledger alone, and what changed between them."""

from domain.actions import Action
from domain.agreement import Agreement
from domain.ledger import ChainHead, Decision, chain
from domain.lifecycle import evolve, open_agreement
from domain.versions import changes, versions
from tests.helpers import factories
from tests.helpers.builders import LEAD, T0, TAMWORTH, reject, revise, send_for_sign_off, set_objectives, submit


def walked(*actions: Action) -> tuple[Agreement, list[Decision]]:
    opened = open_agreement(factories.request(), T0)
    agreement, decisions = opened.agreement, list(opened.decisions)
    for action in actions:
        step = evolve(agreement, action, T0)
        agreement, decisions = step.agreement, decisions + step.decisions
    return agreement, decisions


def test_the_version_sent_for_sign_off_is_rebuilt_from_the_ledger_with_the_engines_digest():
    agreement, decisions = walked(submit(), set_objectives(), send_for_sign_off())
    found = versions(chain(agreement.agreement_id, ChainHead(), decisions))
    assert [v.version for v in found] == [agreement.version]
    assert found[0].plan is not None and found[0].proposal.title == agreement.proposal.title


def test_a_revision_after_a_rejection_is_a_new_version_and_its_changes_are_named():
    agreement, decisions = walked(submit(), set_objectives(), send_for_sign_off(), reject(TAMWORTH, "too dear"),
                                  revise(LEAD, one_off_cost="550000.00"))
    entries = chain(agreement.agreement_id, ChainHead(), decisions)
    first, standing = versions(entries)
    assert standing.version == agreement.version != first.version
    assert [(c.path, c.before, c.after) for c in changes(first, standing)] == [
        ("proposal.one_off_cost", "650000.00", "550000.00")]
