"""The pages for people: what waits on them, the agreement to read and sign, and the forms of the other actions.

Served by the API process under ``/pages`` (``api.app.create_app`` installs them with the pages' settings), with
GOV.UK Frontend's styles (``web/static/govuk``) and Jinja2 templates (``web/templates``). Every page works without
JavaScript: plain links and forms, each form posted with the session's CSRF token (``web.session``) and answered
with a redirect (post, redirect, get).

- ``GET /pages/``: what waits on the signed-in person (``domain.inbox``), soonest deadline first.
- ``GET /pages/agreements/{id}``: the version to sign as a document (``domain.versions``: rebuilt from the
  ledger and checked against the engine's version), what changed since the previous version, the approve or
  reject form naming that version, and the story (``domain.story``).
- ``GET|POST /pages/agreements/{id}/act/{update}``: a form for one action (``web.forms``), validated by the
  contract's model; a problem is shown beside its field.
- ``GET /pages/agreements/{id}/decisions/{number}``: the decision recorded, by its number in the ledger.

A person sees only the agreements a body their identity provider speaks for is or was a partner of, or that a
grant lets them read (``api.authority.Authority.reading_basis``): any other is "not found". Every action goes
through ``api.acting.Acting.act``, the API's one path into the engine (authority, attestation, forwarding).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from api.acting import Acting, ApiError
from api.authority import Authority, bodies_of
from api.tokens import Caller
from domain.business_case import appraise
from domain.inbox import Person, Task, inbox, offers, tasks
from domain.ledger import LedgerEntry
from domain.model import Signatory, Stage
from domain.status import AgreementStatus, money_summary, waiting_summary
from domain.story import story
from domain.versions import Version, changes, versions
from store import directory as directory_store
from store.database import Pool
from store.ledger import read_ledger
from web import forms, session
from workflows.client import AgreementError
from workflows.contract import UPDATES

HERE = Path(__file__).resolve().parent
ASSETS = f"{session.PREFIX}/assets"
SIGNATURES = {"record_sign_off": "the agreement", "sign_variation": "the variation"}


def log() -> structlog.stdlib.BoundLogger:
    """The pages' logger, looked up at each use."""
    return structlog.get_logger("concordat.pages")


def _money(value: Decimal | int | float | str | None) -> str:
    """Pounds as officers read them: '£1,234,567.00', '−£500.00'."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value))
    return f"{'−' if amount < 0 else ''}£{abs(amount):,.2f}"


def _day(value: date | datetime | None) -> str:
    """A date as GOV.UK writes it: '1 April 2027'."""
    return "" if value is None else f"{value.day} {value:%B %Y}"


def _sentence(text: str) -> str:
    """``text`` with its first letter a capital, the rest as written (names keep theirs)."""
    return text[:1].upper() + text[1:]


TEMPLATES = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True),
                        trim_blocks=True, lstrip_blocks=True)
TEMPLATES.filters.update(money=_money, day=_day, sentence=_sentence)
TEMPLATES.globals.update(prefix=session.PREFIX, assets=ASSETS)


class PageError(Exception):
    """A page that cannot be shown: its HTTP ``status``, title and message for people."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with the signed-in person and the CSRF token; never cached."""
    person = session.signed_in(request)
    html = TEMPLATES.get_template(template).render(
        request=request, person=person, csrf_token=session.csrf_token(request) if person else "", **context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def install(app: FastAPI, acting: Acting, checks: Callable[[], Awaitable[Authority]], ledger: Pool | None) -> None:
    """Serve the pages and their assets on ``app``: acting through ``acting``, checking with ``checks``, reading
    the ledger from ``ledger``."""
    app.mount(f"{ASSETS}/govuk", StaticFiles(directory=HERE / "static" / "govuk"), name="govuk-frontend")

    @app.exception_handler(PageError)
    async def _cannot(request: Request, error: PageError) -> HTMLResponse:
        return render(request, "error.html", error.status, title=error.title, message=error.message)

    app.include_router(router(acting, checks, ledger), prefix=session.PREFIX)


def router(acting: Acting, checks: Callable[[], Awaitable[Authority]], ledger: Pool | None) -> APIRouter:
    """The pages' routes (to be included under ``/pages``)."""
    routes = APIRouter(include_in_schema=False)

    async def readable(who: Caller, authority: Authority, agreement_id: str) -> AgreementStatus:
        """The agreement's status, when ``who`` may read it; else "not found" (so nobody learns what exists)."""
        try:
            status: AgreementStatus = await acting.agreements().status(agreement_id)
        except AgreementError:
            raise PageError(404, "Page not found", f"There is no agreement {agreement_id} that you can see.") from None
        basis = authority.reading_basis(who, bodies_of(status))
        if basis is None:
            log().warning("agreement_read_refused", reader=who.identity, name=who.name, agreement_id=agreement_id,
                          what="page")
            raise PageError(404, "Page not found", f"There is no agreement {agreement_id} that you can see.")
        log().info("agreement_read", reader=who.identity, name=who.name, agreement_id=status.agreement_id,
                   what="page", basis=basis)
        return status

    async def entries_of(agreement_id: str) -> list[LedgerEntry]:
        return await read_ledger(ledger, agreement_id) if ledger is not None else []

    def person_of(who: Caller, authority: Authority, bodies: set[str] | frozenset[str]) -> Person:
        return Person(bodies=frozenset(b for b in bodies if authority.speaks_for(who, b)), issuer=who.issuer,
                      subject=who.subject, name=who.name, claim=who.claim)

    @routes.get("/")
    async def waiting(request: Request, who: session.Person) -> HTMLResponse:
        authority = await checks()
        bodies = authority.named_bodies(who) | authority.granted_bodies(who)
        ids: set[str] = set()
        if ledger is not None:
            ids |= await directory_store.agreements_of_bodies(ledger, bodies)
        statuses = await asyncio.gather(*(acting.agreements().status(i) for i in sorted(ids)), return_exceptions=True)
        unread = [type(s).__name__ for s in statuses if isinstance(s, BaseException)
                  and not isinstance(s, AgreementError)]
        if unread:  # Temporal could not answer for some: the page lists the rest rather than none
            log().warning("inbox_statuses_unread", reader=who.identity, errors=unread)
        # Every agreement their councils are or were partners of (closed ones too); tasks come from open ones only.
        readable = [s for s in statuses if isinstance(s, AgreementStatus)
                    and authority.reading_basis(who, bodies_of(s)) is not None]
        person = person_of(who, authority, bodies)
        found = inbox(readable, person, datetime.now(UTC))
        log().info("inbox_shown", reader=who.identity, name=who.name, tasks=len(found))
        return render(request, "inbox.html", title="What waits on you", tasks=found,
                      agreements=sorted(readable, key=lambda s: (s.closure is not None, s.agreement_id)))

    @routes.get("/agreements/{agreement_id}")
    async def agreement(request: Request, agreement_id: str, who: session.Person) -> HTMLResponse:
        authority = await checks()
        status = await readable(who, authority, agreement_id)
        return await agreement_page(request, who, authority, status)

    async def agreement_page(request: Request, who: Caller, authority: Authority, status: AgreementStatus,
                             status_code: int = 200, refused: str = "", shown_version: str = "",
                             errors: dict[str, str] | None = None,
                             values: dict[str, str] | None = None) -> HTMLResponse:
        entries = await entries_of(status.agreement_id)
        found = versions(entries)
        current = next((v for v in reversed(found) if v.version == status.version), None)
        previous: Version | None = None
        if current is not None:
            earlier = [v for v in found if v.seq < current.seq and v.version != current.version]
            previous = earlier[-1] if earlier else None
        if shown_version:  # a stale page: what changed since the version it showed
            previous = next((v for v in found if v.version == shown_version), previous)
        person = person_of(who, authority, bodies_of(status))
        now = datetime.now(UTC)
        waiting_on_person = tasks(status, person, now)
        signing = [t for t in waiting_on_person if t.update == "record_sign_off" and t.signatory]
        accepting = next((t for t in waiting_on_person if t.update == "bind_identity"), None)
        case = current.proposal.business_case if current else None
        return render(request, "agreement.html", status_code, title=status.title, status=status, current=current,
                      previous=previous, changed=changes(previous, current) if previous and current else [],
                      options=appraise(case) if case else [], preferred=case.preferred_option if case else "",
                      signing=signing[0] if signing else None, accepting=accepting, waiting=waiting_summary(status),
                      money=money_summary(status), story=story(entries), refused=refused,
                      errors=errors or {}, values=values or {}, stale=bool(shown_version),
                      offers=offers(status, person, now))

    @routes.get("/agreements/{agreement_id}/act/{update}")
    async def form(request: Request, agreement_id: str, update: str, who: session.Person) -> HTMLResponse:
        authority = await checks()
        status = await readable(who, authority, _form_update(update, agreement_id))
        return form_page(request, who, authority, status, update)

    def form_page(request: Request, who: Caller, authority: Authority, status: AgreementStatus, update: str,
                  values: dict[str, str] | None = None, errors: dict[str, str] | None = None, refused: str = "",
                  status_code: int = 200) -> HTMLResponse:
        person = person_of(who, authority, bodies_of(status))
        task = _task(status, person, update, (values or {}).get("body"), (values or {}).get("signatory"))
        inputs = forms.fields(update, status, task.body) if task else []
        for field in inputs:
            field.value = (values or {}).get(field.name, "")
            field.parts = {part: (values or {}).get(f"{field.name}-{part}", "") for part in ("day", "month", "year")}
            field.error = (errors or {}).get(field.name, "")
        return render(request, "form.html", status_code, title=forms.TITLES[update], status=status, update=update,
                      task=task, fields=inputs, errors=errors or {}, refused=refused)

    @routes.post("/agreements/{agreement_id}/act/{update}")
    async def act(request: Request, agreement_id: str, update: str, who: session.Person) -> Response:
        async with request.form() as sent:
            await session.check_csrf(request, sent)
            values = {key: value for key, value in sent.items() if isinstance(value, str)}
        authority = await checks()
        status = await readable(who, authority, _form_update(update, agreement_id))
        person = person_of(who, authority, bodies_of(status))
        body = values.get("body", "")
        task = _task(status, person, update, body, values.get("signatory"))
        if task is None or task.signatory is None:
            raise PageError(403, "You cannot do this", _why_not(status, person.bodies, body))
        shown_version = values.get("version", "")
        filled = forms.read(update, values, status, shown_version or None, task.signatory, who.issuer)
        actor = {"body": task.body, "signatory": task.signatory}
        data = {**filled.data, "actor": actor | ({"delegate": task.delegate} if task.delegate else {})}
        model = UPDATES[update]
        try:
            action = model.model_validate(data)
        except ValidationError as invalid:
            errors: dict[str, str] = {}
            for detail in invalid.errors():
                name = filled.field_of(detail["loc"]) or _first_field(update, status, task.body)
                errors.setdefault(name, _message(detail))
            return await back(request, who, authority, status, update, values, errors, "", 400)
        try:
            result = await acting.act(who, authority, status.agreement_id, update, action)
        except ApiError as refusal:
            problems = refusal.problems
            if update in SIGNATURES and any(p["code"] == "stale_version" for p in problems):
                fresh = await readable(who, authority, status.agreement_id)
                if update == "sign_variation":  # the form lists the variation's changes as they now stand
                    return form_page(request, who, authority, fresh, update, None, {}, _stale(update), 409)
                return await agreement_page(request, who, authority, fresh, 409, _stale(update), shown_version)
            errors = {}
            for problem in problems:
                name = filled.field_of(problem["field"])
                if name:
                    errors.setdefault(name, problem["message"])
            return await back(request, who, authority, status, update, values, errors,
                        "" if errors else refusal.message, refusal.status)
        receipt = result.action
        number = receipt.first_seq if receipt else result.decisions_recorded
        log().info("page_action", reader=who.identity, agreement_id=status.agreement_id, action=update, seq=number)
        return RedirectResponse(f"{session.PREFIX}/agreements/{status.agreement_id}/decisions/{number}",
                                status_code=303)

    async def back(request: Request, who: Caller, authority: Authority, status: AgreementStatus, update: str,
                   values: dict[str, str], errors: dict[str, str], refused: str, status_code: int) -> Response:
        """The page the form was sent from, with the problems beside their fields."""
        if update == "record_sign_off":
            return await agreement_page(request, who, authority, status, status_code, refused, errors=errors,
                                        values=values)
        return form_page(request, who, authority, status, update, values, errors, refused, status_code)

    @routes.get("/agreements/{agreement_id}/decisions/{number}")
    async def decision(request: Request, agreement_id: str, number: int, who: session.Person) -> HTMLResponse:
        authority = await checks()
        status = await readable(who, authority, agreement_id)
        entries = await entries_of(status.agreement_id)
        told = {line.seq: line for line in story(entries)}
        entry = next((e for e in entries if e.seq == number), None)
        if entry is None or number not in told:
            raise PageError(404, "Page not found", f"The ledger holds no decision {number} of this agreement.")
        return render(request, "decision.html", title="Decision recorded", status=status, entry=entry,
                      line=told[number], following=[told[s] for s in sorted(told) if s > number])

    return routes


def _task(status: AgreementStatus, person: Person, update: str, body: str | None,
          signatory: str | None) -> Task | None:
    """What ``person`` does by ``update`` on the agreement now (a task waiting on them, or what a signatory may do
    at any time), for ``body`` and as (or for) ``signatory`` when the form names them; their own before one
    delegated to them."""
    found = [t for t in [*tasks(status, person, datetime.now(UTC)), *offers(status, person, datetime.now(UTC))]
             if t.update == update and (not body or t.body == body) and (not signatory or t.signatory == signatory)]
    found.sort(key=lambda t: (t.signatory is None, t.delegate is not None))
    return found[0] if found else None


def _form_update(update: str, agreement_id: str) -> str:
    """``agreement_id`` when ``update`` is done through a form; else "not found"."""
    if update not in forms.TITLES:
        raise PageError(404, "Page not found", f"There is no form for {update.replace('_', ' ')}.")
    return agreement_id


def _first_field(update: str, status: AgreementStatus, body: str) -> str:
    inputs = forms.fields(update, status, body)
    return inputs[0].name if inputs else ""


def _message(detail: Mapping[str, Any]) -> str:
    """What a person reads for a pydantic error ``detail`` (its ``type``, ``msg`` and ``ctx``): the rules' own
    words for a rule broken, with a capital first letter; plain words, as the GOV.UK Design System's error
    messages put them, where pydantic's would be about parsing ("Input should be a valid date or datetime, day
    value is outside expected range") or limits ("Input should be less than or equal to 100")."""
    kind, limits = str(detail["type"]), detail.get("ctx") or {}
    if kind.startswith("date"):
        return "Enter a real date, for example 27 3 2027"
    if kind in ("float_parsing", "decimal_parsing", "int_parsing", "float_type", "decimal_type", "int_type"):
        return "Enter a number, such as 12 or 12.5"
    if kind in ("literal_error", "enum"):
        return "Choose one of the options"
    if kind == "less_than_equal":
        return f"Enter a number no more than {limits['le']}"
    if kind == "greater_than_equal":
        return f"Enter a number no less than {limits['ge']}"
    text = str(detail["msg"]).removeprefix("Value error, ")
    return text[:1].upper() + text[1:]


def _stale(update: str) -> str:
    return (f"{SIGNATURES[update].capitalize()} changed after you opened it, so your decision was not recorded. "
            "Read what changed, then decide on the version below.")


def _why_not(status: AgreementStatus, bodies: frozenset[str], body: str) -> str:
    """Why a person cannot do an action for ``body`` now: nothing waits on their body, or they are not its
    signatory."""
    if body not in bodies:
        return "Your council is not one this agreement waits on for this."
    signatories: list[Signatory] = status.signatories.get(body, [])
    names = ", ".join(s.name for s in signatories)
    if status.stage is Stage.CLOSED:
        return "This agreement is closed."
    return (f"Nothing of this kind waits on you for {status.body_names.get(body, body)} now, or only its signatories "
            f"({names}) can do it.")
