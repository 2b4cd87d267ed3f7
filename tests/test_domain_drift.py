"""Drift: stages, milestones and KPIs that go off track raise each alert level once, and say who is waited on.

Also the status an officer sees, which is built from the same drift rules.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.agreement import Agreement
from domain.drift import AlertKind, due_alerts, humanise, next_check, open_alerts, overall_rag, stage_rag, waiting_on
from domain.model import Rag, Stage
from domain.status import rejection_summary, status_of
from tests.helpers import factories
from tests.helpers.agreements import (
    apply,
    conclude_review,
    in_implementation,
    in_objective_setting,
    in_sign_off,
    live,
    opened,
)
from tests.helpers.builders import (
    LEAD,
    STAFFORDSHIRE,
    T0,
    TAMWORTH,
    after,
    approve,
    readings,
    reject,
    report,
    set_objectives,
    submit,
    withdraw,
)
from workflows.web_ui import details_markdown

SECOND = timedelta(seconds=1)
PROPOSAL_AMBER = after(48)  # 80% of the proposal stage's 60 days
PROPOSAL_DEADLINE = after(60)
FLEET_OVERDUE = datetime(2027, 5, 2, tzinfo=UTC)  # midnight after the fleet milestone's due date, 1 May


def levels(agreement: Agreement, now: datetime) -> list[str]:
    return [alert.level for alert in due_alerts(agreement, now)]


def raise_alerts(agreement: Agreement, now: datetime) -> list[str]:
    """Raise what is due, as the workflow does; return the levels raised."""
    alerts = due_alerts(agreement, now)
    agreement.raised_alerts.extend(alert.key for alert in alerts)
    return [alert.level for alert in alerts]


def waiting(agreement: Agreement, now: datetime = T0) -> list[tuple[str, str]]:
    return [(w.body, w.for_what) for w in waiting_on(agreement, now)]


# Stage drift


def test_a_stage_turns_amber_exactly_at_its_amber_share_and_not_a_second_before():
    agreement = opened()
    assert levels(agreement, PROPOSAL_AMBER - SECOND) == []
    assert levels(agreement, PROPOSAL_AMBER) == ["amber"]


def test_a_stage_turns_red_at_its_deadline():
    agreement = opened()
    assert levels(agreement, PROPOSAL_DEADLINE - SECOND) == ["amber"]
    assert levels(agreement, PROPOSAL_DEADLINE) == ["amber", "red"]


def test_an_overdue_stage_escalates_at_every_escalation_interval():
    agreement = opened(settings={"escalation_interval": "P3D"})
    assert levels(agreement, PROPOSAL_DEADLINE + timedelta(days=3) - SECOND)[-1] == "red"
    assert levels(agreement, PROPOSAL_DEADLINE + timedelta(days=3))[-1] == "escalation 1"
    assert levels(agreement, PROPOSAL_DEADLINE + timedelta(days=6))[-2:] == ["escalation 1", "escalation 2"]


def test_amber_share_and_stage_durations_come_from_the_settings():
    agreement = opened(settings={"amber_share": "0.5", "stage_durations": {"proposal": "P10D"}})
    assert levels(agreement, after(5) - SECOND) == [] and levels(agreement, after(5)) == ["amber"]
    assert levels(agreement, after(10)) == ["amber", "red"]


def test_each_level_is_alerted_once_and_raised_alerts_are_not_due_again():
    agreement = opened()
    raised = [raise_alerts(agreement, after(day, hours=hour)) for day in range(75) for hour in (0, 12)]
    assert [level for batch in raised for level in batch] == ["amber", "red", "escalation 1", "escalation 2"]
    assert due_alerts(agreement, after(75)) == []


def test_next_check_is_when_the_next_level_is_reached():
    week = timedelta(days=7)
    moments = [T0, PROPOSAL_AMBER, PROPOSAL_DEADLINE, PROPOSAL_DEADLINE + week]
    assert [next_check(opened(), now) for now in moments] == [
        PROPOSAL_AMBER, PROPOSAL_DEADLINE, PROPOSAL_DEADLINE + week, PROPOSAL_DEADLINE + 2 * week]


def test_a_new_stage_restarts_the_drift_clock_under_a_new_condition():
    agreement = opened()
    [old] = due_alerts(agreement, PROPOSAL_AMBER)
    agreement.raised_alerts.append(old.key)
    moved = apply(agreement, submit(), now=PROPOSAL_AMBER)
    assert levels(moved, PROPOSAL_AMBER + timedelta(days=36) - SECOND) == []
    [new] = due_alerts(moved, PROPOSAL_AMBER + timedelta(days=36))  # 80% of objective-setting's 45 days
    assert (new.level, new.stage) == ("amber", Stage.OBJECTIVE_SETTING) and new.condition != old.condition


def test_a_closed_agreement_never_drifts():
    closed = apply(opened(), withdraw())
    assert due_alerts(closed, after(1000)) == [] and next_check(closed, after(1000)) is None


def test_a_review_drift_clock_starts_when_its_review_period_ends():
    agreement = live()  # review 1 period ends on day 91; 30 days to decide, amber after 24
    assert levels(agreement, after(91) + timedelta(days=24) - SECOND) == []
    assert next_check(agreement, after(50)) == after(91), "the review falls outstanding when its period ends"
    assert next_check(agreement, after(91)) == after(91) + timedelta(days=24)
    assert next_check(live(old_rules=True), after(50)) == after(91) + timedelta(days=24), "before never-skip-reviews"
    assert levels(agreement, after(91) + timedelta(days=24)) == ["amber"]
    assert levels(agreement, after(121)) == ["amber", "red"]


# Messages


def test_a_sign_off_alert_names_the_agreement_the_stage_and_who_has_not_signed():
    agreement = apply(in_sign_off(), approve(LEAD))
    [amber, red] = due_alerts(agreement, after(30, hours=5))
    assert red.kind is AlertKind.STAGE_DRIFT and red.stage is Stage.SIGN_OFF
    assert red.message.startswith("Joint waste and recycling service (waste-2027) is red in sign off: "
                                  "the sign off stage is overdue by 5 hours.")
    assert "Waiting on: Tamworth Borough Council (sign-off); Staffordshire County Council (sign-off)." in red.message
    assert "Lichfield" not in red.message
    assert [w.body for w in red.waiting_on] == [factories.TAMWORTH, factories.STAFFORDSHIRE]
    assert "has used 80% of its planned 30 days without completing" in amber.message


def test_an_overdue_milestone_is_alerted_from_midnight_after_its_due_date():
    agreement = in_implementation()
    assert due_alerts(agreement, FLEET_OVERDUE - SECOND) == []
    [alert] = due_alerts(agreement, FLEET_OVERDUE)
    assert (alert.kind, alert.level, alert.reached_at) == (AlertKind.MILESTONE_OVERDUE, "red", FLEET_OVERDUE)
    assert next_check(agreement, T0) == FLEET_OVERDUE


def test_a_milestone_alert_says_when_it_was_due_how_far_along_it_is_and_whose_it_is():
    agreement = apply(in_implementation(), report("rounds", TAMWORTH, "in_progress", 40))
    overdue = {a.subject: a for a in due_alerts(agreement, datetime(2027, 7, 3, 6, tzinfo=UTC))}
    rounds = overdue["milestone rounds 'Collection rounds merged'"]
    assert "(waste-2027) is red in implementation" in rounds.message
    assert "(due 2027-06-30, 40% complete)" in rounds.message
    assert "Owner: Tamworth Borough Council." in rounds.message
    assert [w.body for w in rounds.waiting_on] == [factories.TAMWORTH]


def test_a_milestone_is_as_late_as_the_time_since_its_due_date_ended():
    [alert] = due_alerts(in_implementation(), FLEET_OVERDUE + timedelta(hours=6))
    assert alert.off_by.startswith("is overdue by 6 hours (due ")
    [alert] = due_alerts(in_implementation(), FLEET_OVERDUE)
    assert alert.off_by.startswith("is overdue (due ")


def test_a_complete_milestone_is_never_overdue():
    agreement = apply(in_implementation(), report("fleet"))
    assert due_alerts(agreement, FLEET_OVERDUE + timedelta(days=10)) == []


def test_milestones_are_only_alerted_in_implementation():
    agreement = apply(in_objective_setting(), set_objectives())
    kinds = {a.kind for a in due_alerts(agreement, FLEET_OVERDUE + timedelta(days=10))}
    assert kinds == {AlertKind.STAGE_DRIFT}


def test_a_red_kpi_reading_is_alerted_and_amber_or_green_ones_are_not():
    agreement = apply(live(), readings(cost="65.5", on_time="98.2"), now=after(92))
    [alert] = due_alerts(agreement, after(92))
    assert (alert.kind, alert.condition, alert.reached_at) == (AlertKind.KPI_RED, "kpi:cost-per-household:review1",
                                                                after(92))
    assert "is red in review: KPI cost-per-household 'Cost per household' reads 65.5 GBP, 5.50 over its target " \
           "60.00 (red tolerance 5)" in alert.message
    assert "waiting on: Lichfield District Council (review 1: the review decision)" in alert.message


def test_the_same_red_kpi_is_alerted_again_in_the_next_review():
    first = apply(live(), readings(cost="70"), now=after(91))
    agreement = apply(conclude_review(first), readings(cost="70"), now=after(182))
    assert [a.condition for a in due_alerts(agreement, after(182))] == ["kpi:cost-per-household:review2"]


# Waiting on, RAG, open alerts


def test_waiting_on_in_each_stage():
    lead = factories.LICHFIELD
    assert waiting(opened()) == [(lead, "the proposal to be submitted")]
    assert waiting(in_objective_setting()) == [(lead, "objectives and a plan")]
    assert waiting(apply(in_objective_setting(), set_objectives())) == [(lead, "the plan to be submitted for sign-off")]
    signed_by_one = apply(in_sign_off(), approve(STAFFORDSHIRE))
    assert waiting(signed_by_one) == [(lead, "sign-off"), (factories.TAMWORTH, "sign-off")]
    assert waiting(in_implementation()) == [(lead, "milestones fleet"), (factories.TAMWORTH, "milestones rounds")]
    assert waiting(apply(in_implementation(), report("rounds", TAMWORTH))) == [(lead, "milestones fleet")]
    assert waiting(apply(opened(), withdraw())) == []


def test_waiting_on_in_review_starts_when_the_review_period_ends():
    agreement = live()
    assert waiting(agreement, after(91) - SECOND) == []
    need_readings = "review 1: readings for cost-per-household, missed-bins"
    assert waiting(agreement, after(91)) == [(factories.LICHFIELD, need_readings)]
    with_readings = apply(agreement, readings(), now=after(91))
    assert waiting(with_readings, after(91)) == [(factories.LICHFIELD, "review 1: the review decision")]


def test_stage_rag_follows_the_drift_levels():
    moments = [PROPOSAL_AMBER - SECOND, PROPOSAL_AMBER, PROPOSAL_DEADLINE, PROPOSAL_DEADLINE + timedelta(days=30)]
    assert [stage_rag(opened(), now) for now in moments] == [Rag.GREEN, Rag.AMBER, Rag.RED, Rag.RED]
    assert [overall_rag(opened(), now) for now in moments] == [Rag.GREEN, Rag.AMBER, Rag.RED, Rag.RED]


def test_overall_rag_is_red_for_an_overdue_milestone_while_the_stage_is_green():
    agreement = in_implementation()
    assert (stage_rag(agreement, FLEET_OVERDUE), overall_rag(agreement, FLEET_OVERDUE)) == (Rag.GREEN, Rag.RED)


def test_overall_rag_takes_the_worst_kpi_reading_in_review():
    agreement = apply(live(), readings(cost="63"), now=after(91))
    assert (stage_rag(agreement, after(91)), overall_rag(agreement, after(91))) == (Rag.GREEN, Rag.AMBER)


def test_open_alerts_give_the_highest_level_of_each_condition():
    agreement = in_implementation(settings={"stage_durations": {"implementation": "P20D"}})
    now = after(31)  # stage deadline day 20, escalation 1 on day 27; fleet overdue from midnight on day 31
    assert {(a.kind, a.level) for a in open_alerts(agreement, now)} == {
        (AlertKind.STAGE_DRIFT, "escalation 1"), (AlertKind.MILESTONE_OVERDUE, "red")}
    assert open_alerts(agreement, after(10)) == []


# Status


def test_status_in_review_shows_milestones_kpis_with_readings_and_the_open_alerts():
    agreement = apply(live(), readings(cost="70"), now=after(91))
    status = status_of(agreement, after(91))
    assert [(m.id, m.status, m.percent_complete) for m in status.milestones] == [
        ("fleet", "complete", 100), ("rounds", "complete", 100)]
    assert [(k.id, k.reading, k.rag) for k in status.kpis] == [
        ("cost-per-household", Decimal("70"), Rag.RED), ("missed-bins", Decimal("99.1"), Rag.GREEN)]
    assert [a.kind for a in status.open_alerts] == [AlertKind.KPI_RED]
    assert (status.stage, status.rag, status.stage_rag, status.review_number) == (Stage.REVIEW, Rag.RED, Rag.GREEN, 1)
    assert [w.for_what for w in status.waiting_on] == ["review 1: the review decision"]
    assert status.went_live_at == T0 and status.payback_years == Decimal("1.30")


def test_status_before_objectives_are_set_has_no_milestones_or_kpis():
    status = status_of(opened(), PROPOSAL_AMBER)
    assert (status.milestones, status.kpis, status.rag, status.deadline) == ([], [], Rag.AMBER, PROPOSAL_DEADLINE)
    assert status.partner_bodies == [factories.LICHFIELD, factories.TAMWORTH, factories.STAFFORDSHIRE]
    assert [w.body for w in status.waiting_on] == [factories.LICHFIELD]


def test_status_in_implementation_shows_unread_kpis_and_the_overdue_milestone():
    status = status_of(apply(in_implementation(), report("rounds", TAMWORTH, "blocked", 10)), FLEET_OVERDUE)
    assert [(k.reading, k.rag) for k in status.kpis] == [(None, None), (None, None)]
    assert [(m.status, m.percent_complete) for m in status.milestones] == [("not_started", 0), ("blocked", 10)]
    assert [a.subject for a in status.open_alerts] == ["milestone fleet 'Joint fleet procured'"]
    assert len(status.sign_offs) == 3


def test_status_of_a_closed_agreement_shows_its_closure_and_waits_on_nobody():
    status = status_of(apply(in_sign_off(), withdraw(), now=after(3)), after(400))
    assert (status.stage, status.closure.outcome, status.deadline, status.waiting_on, status.open_alerts) == (
        Stage.CLOSED, "withdrawn", None, [], [])


# Words an officer trusts


def test_durations_read_well_at_any_scale():
    start = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)
    spans = {
        timedelta(0): "less than a second", timedelta(seconds=0.5): "less than a second",
        timedelta(seconds=20): "20 seconds", timedelta(minutes=1, seconds=1): "1 minute 1 second",
        timedelta(hours=5): "5 hours", timedelta(days=3, hours=4, minutes=5): "3 days 4 hours",
        timedelta(days=30): "30 days", timedelta(days=365 * 2 + 92): "2 years 3 months",
        timedelta(days=366): "1 year",  # to 1 April 2028, across 29 February
    }
    assert {span: humanise(start, start + span) for span in spans} == spans


def test_a_kpi_reading_is_over_or_under_its_target_by_the_kpis_direction():
    agreement = apply(live(), readings(cost="70", on_time="80"), now=after(92))
    messages = {a.subject: a.off_by for a in due_alerts(agreement, after(92))}
    assert messages["KPI cost-per-household 'Cost per household'"].startswith(
        "reads 70 GBP, 10.00 over its target 60.00")
    assert " under its target " in messages[next(s for s in messages if "missed-bins" in s)]


def test_a_rejection_is_named_with_its_reason_in_the_status_and_details():
    status = status_of(apply(in_sign_off(), reject(TAMWORTH, "our contribution is too high"), now=after(31)), after(32))
    assert status.stage is Stage.PROPOSAL
    assert rejection_summary(status) == (
        "sign-off rejected by Tamworth Borough Council (Owen Hughes) on 2027-05-02 09:30 UTC: "
        "our contribution is too high")
    assert "**Rejected:** Sign-off rejected by Tamworth Borough Council" in details_markdown(status)
    assert rejection_summary(status_of(in_sign_off(), after(31))) is None


def test_the_kpi_table_in_the_details_keeps_its_columns_apart():
    details = details_markdown(status_of(apply(live(), readings(cost="70"), now=after(91)), after(91)))
    assert "| KPI\u2003\u2003 | Target\u2003\u2003 | Reading\u2003\u2003 | RAG |" in details
    assert "| Cost per household\u2003\u2003 | 60.00 GBP\u2003\u2003 | 70 GBP\u2003\u2003 | red |" in details


def test_the_details_name_the_service_lead_body_and_partners_on_every_run():
    status = status_of(opened(), T0)
    names = ", ".join(status.body_names[code] for code in status.partner_bodies)
    assert details_markdown(status).split("\n\n")[1] == (
        f"**Service:** {status.service_name} ({status.service_category.value}) · **Lead body:** "
        f"{status.body_names[status.lead_body]} · **Partners:** {names}")
