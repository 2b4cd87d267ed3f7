"""What waits on a person: the inbox's tasks from an agreement's status, soonest deadline first, with RAG."""

from datetime import date, timedelta

from domain.actions import BindIdentity, DelegateSignature
from domain.inbox import Person, inbox, offers, tasks
from domain.model import BoundIdentity, Rag
from domain.status import status_of
from tests.helpers import factories
from tests.helpers.agreements import apply, in_implementation, in_sign_off, live, review_due
from tests.helpers.builders import LEAD, STAFFORDSHIRE, T0, TAMWORTH, after, approve, readings

TAMWORTH_ISSUER = "https://id.tamworth.example"
OWEN = Person(bodies=frozenset({factories.TAMWORTH}), issuer=TAMWORTH_ISSUER, subject="owen", name="Owen Hughes")
STRANGER = Person(bodies=frozenset({"E07000200"}), issuer="https://id.elsewhere.example", subject="x",
                  name="Owen Hughes")


def bound(agreement, person=OWEN, actor=TAMWORTH):
    """``agreement`` once ``person`` has accepted their identity as ``actor``'s signatory."""
    identity = BoundIdentity(issuer=person.issuer, subject=person.subject)
    return apply(agreement, BindIdentity(actor=actor, name=actor.signatory, identity=identity))


def whats(found):
    return [(task.update, task.signatory) for task in found]


def test_a_signatory_named_by_the_lead_is_asked_to_accept_their_identity_then_to_sign_off():
    agreement = in_sign_off()
    now = after(1)
    waiting = tasks(status_of(agreement, now), OWEN, now)
    assert whats(waiting) == [("bind_identity", "Owen Hughes"), ("record_sign_off", None)]
    assert waiting[0].link == "agreements/waste-2027/act/bind_identity"
    agreement = bound(agreement)
    waiting = tasks(status_of(agreement, now), OWEN, now)
    assert whats(waiting) == [("record_sign_off", "Owen Hughes")]
    sign_off = waiting[0]
    assert sign_off.link == "agreements/waste-2027"
    assert sign_off.deadline == agreement.deadline.date()
    assert sign_off.rag is Rag.GREEN and sign_off.body_name == "Tamworth Borough Council"


def test_nothing_waits_on_another_council_or_after_the_body_has_signed():
    agreement = bound(in_sign_off())
    assert tasks(status_of(agreement, T0), STRANGER, T0) == []
    agreement = apply(agreement, approve(TAMWORTH))
    assert tasks(status_of(agreement, T0), OWEN, T0) == []


def test_a_sign_off_past_its_deadline_is_red():
    agreement = bound(in_sign_off())
    late = agreement.deadline + timedelta(days=1)
    assert tasks(status_of(agreement, late), OWEN, late)[0].rag is Rag.RED


def test_milestones_owed_by_the_body_soonest_first_red_once_overdue():
    agreement = bound(in_implementation())
    now = after(45)  # the fleet milestone (Lichfield's, day 30) is overdue; Tamworth's rounds (day 90) is not
    assert whats(tasks(status_of(agreement, now), OWEN, now)) == [("report_milestone", "Owen Hughes")]
    lead = Person(bodies=frozenset({factories.LICHFIELD}), issuer="https://id.lichfield.example", subject="priya",
                  name="Priya Shah")
    agreement = bound(agreement, lead, LEAD)
    both = Person(bodies=frozenset({factories.LICHFIELD, factories.TAMWORTH}), issuer=lead.issuer,
                  subject=lead.subject, name="Priya Shah")
    found = tasks(status_of(agreement, now), both, now)
    assert [t.deadline for t in found] == sorted(t.deadline for t in found)
    fleet = found[0]
    assert fleet.update == "report_milestone" and fleet.body == factories.LICHFIELD and fleet.rag is Rag.RED
    assert found[-1].signatory is None  # Priya is no signatory of Tamworth: its signatory must act


def test_a_review_asks_the_lead_for_readings_benefits_and_lessons_then_the_decision():
    lead = Person(bodies=frozenset({factories.LICHFIELD}), issuer="https://id.lichfield.example", subject="priya",
                  name="Priya Shah")
    agreement = bound(bound(live(), lead, LEAD))
    due = review_due(agreement)
    updates = [task.update for task in tasks(status_of(agreement, due), lead, due)]
    assert updates == ["record_kpi_readings", "record_lessons", "record_benefits"]  # same deadline: by what
    agreement = apply(agreement, readings(), now=due)
    found = tasks(status_of(agreement, due), lead, due)
    assert "decide_review" in [task.update for task in found]
    assert {task.deadline for task in found} == {status_of(agreement, due).review_due.date()}
    partner = tasks(status_of(agreement, due), OWEN, due)
    assert [task.update for task in partner] == ["record_lessons"]


def test_the_inbox_orders_every_agreements_tasks_by_deadline():
    signing = bound(in_sign_off())
    delivering = bound(in_implementation())
    now = after(1)
    found = inbox([status_of(delivering, now), status_of(signing, now)], OWEN, now)
    assert [task.update for task in found] == ["record_sign_off", "report_milestone"]  # sign-off due first
    assert [task.deadline for task in found] == sorted(task.deadline or date.max for task in found)
    assert all(task.signatory == "Owen Hughes" for task in found)
    assert STAFFORDSHIRE.body not in {task.body for task in found}


def test_a_delegate_is_asked_to_sign_for_the_absent_signatory_within_the_dates_and_may_not_after():
    owen = bound(in_sign_off())
    deputy = Person(bodies=frozenset({factories.TAMWORTH}), issuer=TAMWORTH_ISSUER, subject="deputy",
                    name="Dee Puty")
    delegation = DelegateSignature(actor=TAMWORTH, delegate="Dee Puty",
                                   delegate_identity=BoundIdentity(issuer=TAMWORTH_ISSUER, subject="deputy"),
                                   starts=T0.date(), ends=T0.date() + timedelta(days=6))
    agreement = apply(owen, delegation)
    now = after(1)
    [task] = tasks(status_of(agreement, now), deputy, now)
    assert (task.update, task.signatory, task.delegate) == ("record_sign_off", "Owen Hughes", "Dee Puty")
    assert "for Owen Hughes" in task.what
    assert [t.update for t in offers(status_of(agreement, now), OWEN, now)] == ["withdraw_delegation"]
    later = after(8)
    [waiting] = tasks(status_of(agreement, later), deputy, later)  # the body's sign-off, for its signatory
    assert (waiting.signatory, waiting.delegate) == (None, None)
    assert [t.update for t in offers(status_of(agreement, later), OWEN, later)] == ["delegate_signature"]
