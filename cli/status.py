"""``starter.py status``, and the status every action prints: an agreement as an officer reads it."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from cli.output import print_table, when
from domain.model import Rag, Stage
from domain.status import (
    AgreementStatus,
    money_summary,
    rejection_summary,
    schedule_summary,
    variation_markdown,
    waiting_summary,
)

_RAG_STYLE = {Rag.GREEN: "green", Rag.AMBER: "yellow", Rag.RED: "bold red"}


def named(status: AgreementStatus, code: str) -> str:
    """A body's name beside its code: 'Tamworth Borough Council (E07000199)'."""
    name = status.body_names.get(code)
    return f"{name} ({code})" if name else code


def print_status(console: Console, status: AgreementStatus) -> None:
    """The agreement's heading, what it waits for, its sign-offs, milestones, KPIs, variation, signatories and
    their delegations, open alerts and closure, each only where it has any."""
    _print_heading(console, status)
    _print_summaries(console, status)
    _print_sign_offs(console, status)
    _print_milestones(console, status)
    _print_kpis(console, status)
    _print_variation(console, status)
    _print_signatories(console, status)
    _print_alerts_and_closure(console, status)


def _line(console: Console, text: str) -> None:
    console.print(text, highlight=False)


def _print_heading(console: Console, status: AgreementStatus) -> None:
    console.print(f"[bold]{escape(status.title)}[/bold] ({status.agreement_id})")
    _line(console, f"Lead: {escape(named(status, status.lead_body))}")
    rag = f"[{_RAG_STYLE[status.rag]}]{status.rag.value.upper()}[/]"
    console.print(f"Stage: {status.stage.label}   RAG: {rag}   Deadline: {when(status.deadline)}")
    _line(console, escape(waiting_summary(status)))
    if status.stage is Stage.SIGN_OFF and status.version:
        _line(console, f"Version to sign (--version): {status.version}")


def _print_summaries(console: Console, status: AgreementStatus) -> None:
    if rejection := rejection_summary(status):
        _line(console, f"[bold red]Rejected:[/] {escape(rejection)}")
    if case := money_summary(status):
        _line(console, f"Case: {case}")
    if schedule := schedule_summary(status):
        _line(console, f"Reviews: {schedule}")


def _print_sign_offs(console: Console, status: AgreementStatus) -> None:
    if status.sign_offs:
        print_table(console, f"Sign-off round {status.sign_off_round}",
                    ["Body", "Signatory", "Decision", "Reason", "At"],
                    [[named(status, s.body), s.signatory if s.delegate is None else f"{s.delegate} for {s.signatory}",
                      s.decision.value, s.reason or "-", when(s.at)]
                     for s in status.sign_offs])


def _print_milestones(console: Console, status: AgreementStatus) -> None:
    if status.milestones:
        print_table(console, "Milestones", ["Milestone", "Owner", "Due", "Status", "Done"],
                    [[m.title, named(status, m.owner_body), str(m.due), m.status.value.replace("_", " "),
                      f"{m.percent_complete}%"] for m in status.milestones])


def _print_kpis(console: Console, status: AgreementStatus) -> None:
    if status.kpis:
        print_table(console, f"KPIs (review {status.review_number})", ["KPI", "Target", "Reading", "RAG"],
                    [[k.name, f"{k.target} {k.unit}", "-" if k.reading is None else f"{k.reading} {k.unit}",
                      k.rag.value if k.rag else "-"] for k in status.kpis])


def _print_variation(console: Console, status: AgreementStatus) -> None:
    if status.variation:
        console.print(variation_markdown(status, status.variation), markup=False)
        if status.variation.version:
            _line(console, f"Variation version to sign (--version): {status.variation.version}")


def _print_signatories(console: Console, status: AgreementStatus) -> None:
    def retired(code: str) -> str:
        return ", ".join(f"{r.name} ({r.retired_on})" for r in status.retired_signatories if r.body == code) or "-"

    print_table(console, "Signatory register", ["Body", "Signatories", "Retired"],
                [[status.body_names.get(code, code), ", ".join(s.name for s in signatories) or "none", retired(code)]
                 for code, signatories in status.signatories.items()])
    if status.delegations:
        print_table(console, "Delegations of signature", ["Body", "Signatory", "Delegate", "From", "To", "Decision"],
                    [[named(status, d.body), d.signatory, d.delegate, str(d.starts), str(d.ends), f"#{d.decision}"]
                     for d in status.delegations])


def _print_alerts_and_closure(console: Console, status: AgreementStatus) -> None:
    for alert in status.open_alerts:
        _line(console, f"[bold red]alert[/] {alert.level}: {escape(alert.subject)} {escape(alert.off_by)}")
    if status.closure:
        _line(console, f"Closed: {status.closure.outcome.value} ({escape(status.closure.reason)}) "
                       f"at {when(status.closure.at)}")
