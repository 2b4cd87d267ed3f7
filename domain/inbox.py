"""What waits on a person: the tasks an agreement's status holds for them or their body, soonest deadline first.

Pure: from an ``AgreementStatus`` (``domain.status``) and a ``Person`` (the bodies their identity provider speaks
for, and who they are to it), the actions the agreement waits for from them:

- a sign-off awaited from their body (``record_sign_off``) or a variation signature (``sign_variation``);
- an identity to accept (``bind_identity``): a signatory of their body with no identity bound whose name is theirs
  as their identity provider gives it (named by another body, who names signatories by name and role only);
- a signature delegated to them (``domain.delegation``): a sign-off or variation signature awaited from the body
  of a signatory whose delegation to them covers the day, which they sign "for" that signatory;
- milestone reports owed by their body in implementation (``report_milestone``);
- at a review whose period has started: KPI readings still missing (``record_kpi_readings``) and, from the lead,
  the benefits realised (``record_benefits``) and the review decision (``decide_review``); lessons from any partner
  (``record_lessons``).

Who is waited on and for what comes from ``drift.waiting_on`` (the status's ``waiting_on``); deadlines are the
stage's deadline (``Agreement.deadline``), a milestone's due date, a review's due date and a variation's effective
date; RAG is the stage's drift (``status.stage_rag``), and for a milestone red once ``drift.milestone_overdue_at``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from domain.actions import MilestoneStatus
from domain.delegation import Delegation
from domain.drift import milestone_overdue_at
from domain.model import Rag, Signatory, Stage, ValueObject, name_key
from domain.status import AgreementStatus


class Person(ValueObject):
    """A signed-in person: the bodies their identity provider speaks for, their ``issuer`` and ``subject`` there,
    the name it gives them and the display claim it vouches for (None when it vouches for none)."""

    bodies: frozenset[str]
    issuer: str
    subject: str
    name: str
    claim: str | None = None

    def is_signatory(self, signatory: Signatory) -> bool:
        """Whether they are ``signatory`` (``Signatory.is_identified_by``)."""
        return signatory.is_identified_by(self.issuer, self.subject, self.claim)


class Task(ValueObject):
    """One thing an agreement waits for from a person or their body.

    ``update`` is the contract's update name that does it; ``signatory`` the name the person acts as (None when
    they are not a signatory of ``body``: a signatory of their body must act); ``deadline`` a UTC calendar date
    (None when the agreement sets none); ``link`` the page that does it, relative to the pages' root
    (``agreements/{id}`` to read and sign, ``agreements/{id}/act/{update}`` for a form); ``delegate`` the name
    they sign as for ``signatory`` when it was delegated to them."""

    agreement_id: str
    title: str
    body: str
    body_name: str
    what: str
    update: str
    signatory: str | None
    deadline: date | None
    rag: Rag
    link: str
    delegate: str | None = None
    """The name the person signs as for ``signatory`` under a delegation to them; None when they act as themselves."""


def tasks(status: AgreementStatus, person: Person, now: datetime) -> list[Task]:
    """The tasks ``status``'s agreement holds for ``person`` at ``now`` (UTC), soonest deadline first (those with
    none last), then by agreement and what; none once the agreement is closed."""
    if status.closure is not None:
        return []
    found: list[Task] = []
    for body in sorted(person.bodies & _bodies_acting(status)):
        found += _tasks_of_body(status, person, body, now)
    return sorted(found, key=lambda task: (task.deadline or date.max, task.agreement_id, task.what))


def inbox(statuses: Iterable[AgreementStatus], person: Person, now: datetime) -> list[Task]:
    """Every task of every agreement in ``statuses`` for ``person`` at ``now``, soonest deadline first."""
    found = [task for status in statuses for task in tasks(status, person, now)]
    return sorted(found, key=lambda task: (task.deadline or date.max, task.agreement_id, task.what))


def _bodies_acting(status: AgreementStatus) -> set[str]:
    """The partners, and the bodies a pending variation brings in (they sign it)."""
    incoming = {p.code for p in status.variation.variation.incoming} if status.variation else set()
    return {*status.partner_bodies, *incoming}


def _signatories(status: AgreementStatus, body: str) -> list[Signatory]:
    if body in status.signatories:
        return status.signatories[body]
    incoming = status.variation.variation.incoming if status.variation else []
    return next((p.signatories for p in incoming if p.code == body), [])


def _tasks_of_body(status: AgreementStatus, person: Person, body: str, now: datetime) -> list[Task]:
    signatories = _signatories(status, body)
    acting_as = next((s.name for s in signatories if person.is_signatory(s)), None)
    names = {**status.body_names}
    if status.variation:
        names |= {p.code: p.name for p in status.variation.variation.incoming}
    body_name = names.get(body, body)
    stage_deadline = status.deadline.date() if status.deadline else None

    def task(what: str, update: str, deadline: date | None, rag: Rag, form: bool = True,
             signatory: str | None = acting_as, delegate: str | None = None) -> Task:
        link = f"agreements/{status.agreement_id}" + (f"/act/{update}" if form else "")
        return Task(agreement_id=status.agreement_id, title=status.title, body=body, body_name=body_name, what=what,
                    update=update, signatory=signatory, deadline=deadline, rag=rag, link=link, delegate=delegate)

    found = [task(f"accept your identity as {s.name}, {s.role}", "bind_identity", stage_deadline, status.stage_rag,
                  signatory=s.name)
             for s in signatories if s.identity is None and name_key(s.name) == name_key(person.name)]
    waits = {w.for_what for w in status.waiting_on if w.body == body}
    if status.stage is Stage.SIGN_OFF and "sign-off" in waits:
        found.append(task(f"sign off round {status.sign_off_round}", "record_sign_off", stage_deadline,
                          status.stage_rag, form=False))
    if status.variation is not None and body in status.variation.awaited:
        variation = status.variation
        found.append(task(f"sign variation {variation.number}", "sign_variation", variation.effective_on,
                          status.stage_rag))
    for delegation in _delegated_to(status, person, body, now.date()):
        signatory, delegate = delegation.signatory, delegation.delegate
        until = f"delegated to you until {delegation.ends:%-d %B %Y}"
        if status.stage is Stage.SIGN_OFF and "sign-off" in waits:
            found.append(task(f"sign off round {status.sign_off_round} for {signatory} ({until})", "record_sign_off",
                              stage_deadline, status.stage_rag, form=False, signatory=signatory, delegate=delegate))
        if status.variation is not None and body in status.variation.awaited:
            found.append(task(f"sign variation {status.variation.number} for {signatory} ({until})",
                              "sign_variation", status.variation.effective_on, status.stage_rag,
                              signatory=signatory, delegate=delegate))
    delegated = {t.update for t in found if t.delegate is not None}
    found = [t for t in found if t.signatory is not None or t.update not in delegated]  # theirs to sign, for them
    if status.stage is Stage.IMPLEMENTATION:
        for milestone in status.milestones:
            if milestone.owner_body == body and milestone.status is not MilestoneStatus.COMPLETE:
                overdue = milestone_overdue_at(milestone.due) <= now
                found.append(task(f"report on milestone {milestone.id}, {milestone.title}", "report_milestone",
                                  milestone.due, Rag.RED if overdue else status.stage_rag))
    if status.stage is Stage.REVIEW and any(w.body == status.lead_body for w in status.waiting_on):
        due = status.review_due.date() if status.review_due else None
        found += [task(what, update, due, status.stage_rag) for what, update in _review_needs(status, body)]
    return found


def _delegated_to(status: AgreementStatus, person: Person, body: str, day: date) -> list[Delegation]:
    """The delegations of ``body``'s signatories to ``person`` that cover ``day`` (UTC)."""
    return [d for d in status.delegations if d.body == body and d.covers(day)
            and (d.delegate_identity.issuer, d.delegate_identity.subject) == (person.issuer, person.subject)]


def offers(status: AgreementStatus, person: Person, now: datetime) -> list[Task]:
    """What ``person`` may do on the agreement at any time as a signatory, rather than what waits on them: delegate
    their signature while they have no delegation standing (``delegate_signature``), or withdraw the one that
    stands (``withdraw_delegation``). None once the agreement is closed."""
    if status.closure is not None:
        return []
    found = []
    for body in sorted(person.bodies & set(status.signatories)):
        for signatory in status.signatories[body]:
            if not person.is_signatory(signatory):
                continue
            standing = next((d for d in status.delegations
                             if d.body == body and name_key(d.signatory) == name_key(signatory.name)), None)
            update, what = (("withdraw_delegation", f"withdraw your delegation to {standing.delegate}") if standing
                            else ("delegate_signature", "delegate your signature while you are away"))
            found.append(Task(agreement_id=status.agreement_id, title=status.title, body=body,
                              body_name=status.body_names.get(body, body), what=what, update=update,
                              signatory=signatory.name, deadline=standing.ends if standing else None, rag=Rag.GREEN,
                              link=f"agreements/{status.agreement_id}/act/{update}"))
    return found


def _review_needs(status: AgreementStatus, body: str) -> list[tuple[str, str]]:
    """What a review whose period has started needs from ``body``, as (what, update) pairs: readings, benefits and
    the decision from the lead, lessons from every partner."""
    number = status.review_number
    lead = body == status.lead_body
    missing = [k.id for k in status.kpis if k.reading is None]
    needs = []
    if missing and lead:
        needs.append((f"review {number}: KPI readings for {', '.join(missing)}", "record_kpi_readings"))
    if lead and (status.benefits is None or status.benefits.review_number != number):
        needs.append((f"review {number}: the benefits realised", "record_benefits"))
    if status.lessons_at_review < number:
        needs.append((f"review {number}: lessons learned", "record_lessons"))
    if lead and not missing:
        needs.append((f"review {number}: the review decision", "decide_review"))
    return needs
