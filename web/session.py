"""The signed-in person, kept in the pages' session cookie, and the CSRF token of every form.

The session is Starlette's ``SessionMiddleware``: a cookie (``concordat_session``, path ``/pages``) holding the
session as JSON signed with ``CONCORDAT_PAGES_SESSION_SECRET`` (itsdangerous), HttpOnly, SameSite=Lax, Secure
unless ``CONCORDAT_PAGES_COOKIE_SECURE`` is false, and expiring ``CONCORDAT_PAGES_SESSION_SECONDS`` after it was
last set; a sign-in also ends that long after it was made, however often the cookie is refreshed. A cookie that
was altered, or signed with another secret, reads as no session.

The pages use exactly: ``signed_in(request)`` (the ``api.tokens.Caller`` signed in, or None), the dependency
``Person`` (that Caller, or a redirect to ``/pages/sign-in?next=...``), ``csrf_token(request)`` (the value of the
hidden field ``csrf_token`` every form carries) and ``await check_csrf(request, form)`` (raises ``CsrfRefused``,
answered with a 403 page).
"""

from __future__ import annotations

import hmac
import html
import secrets
import time
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData
from starlette.middleware.sessions import SessionMiddleware

from api.tokens import Caller
from web.settings import PagesSettings

COOKIE = "concordat_session"
PREFIX = "/pages"
CSRF_FIELD = "csrf_token"
_PERSON = "person"
_CSRF = "csrf"


class SignInRequired(Exception):
    """No one is signed in (or their sign-in has ended): answered with a redirect to the sign-in page, which
    brings them back to ``next`` (a path under ``/pages``)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form sent without this session's CSRF token (HTTP 403): it did not come from a page this session
    was served."""


def install(app: FastAPI, settings: PagesSettings) -> None:
    """Add the session cookie to ``app`` and answer ``SignInRequired`` and ``CsrfRefused``."""
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret, session_cookie=COOKIE,
                       max_age=settings.session_seconds, path=PREFIX, same_site="lax",
                       https_only=settings.cookie_secure)
    app.state.pages_settings = settings

    @app.exception_handler(SignInRequired)
    async def _sign_in(_: Request, error: SignInRequired) -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/sign-in?next={quote(error.next_path, safe='/')}", status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(_: Request, error: CsrfRefused) -> HTMLResponse:
        return page("This form has expired", f"<p class=\"govuk-body\">{html.escape(str(error))}</p>"
                    f'<p class="govuk-body"><a class="govuk-link" href="{PREFIX}/">Go back to what waits on '
                    "you</a> and try again.</p>", status_code=403)


def sign_in(request: Request, caller: Caller, body: str) -> None:
    """Start a session for ``caller``, signed in through ``body``'s issuer: a new session (nothing of the one
    before is kept) with a new CSRF token."""
    request.session.clear()
    request.session[_PERSON] = {"issuer": caller.issuer, "subject": caller.subject, "name": caller.name,
                                "claim": caller.claim, "body": body, "at": int(time.time())}
    request.session[_CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    """End the session: the cookie is cleared in the response."""
    request.session.clear()


def signed_in(request: Request) -> Caller | None:
    """The person signed in (issuer, subject, name and display claim, as ``api.tokens`` reads them from their
    ID token), or None when no one is or their sign-in is older than the session lifetime."""
    person: Any = request.session.get(_PERSON)
    if not isinstance(person, dict):
        return None
    settings: PagesSettings = request.app.state.pages_settings
    if not isinstance(person.get("at"), int) or time.time() - person["at"] >= settings.session_seconds:
        request.session.clear()
        return None
    return Caller(issuer=person["issuer"], subject=person["subject"], name=person["name"], claim=person["claim"])


def signed_in_body(request: Request) -> str | None:
    """The body whose issuer the person signed in through, or None."""
    person: Any = request.session.get(_PERSON)
    return person.get("body") if isinstance(person, dict) and signed_in(request) else None


def _person(request: Request) -> Caller:
    caller = signed_in(request)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target if request.method == "GET" else f"{PREFIX}/")
    return caller


Person = Annotated[Caller, Depends(_person)]
"""The signed-in person, for a page's route; a request with no one signed in is redirected to sign in."""


def csrf_token(request: Request) -> str:
    """This session's CSRF token, for the hidden field ``csrf_token`` of every form (made on first use)."""
    token = request.session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[_CSRF] = token
    return token


async def check_csrf(request: Request, form: FormData) -> None:
    """Raise ``CsrfRefused`` unless ``form`` carries this session's CSRF token (compared in constant time)."""
    sent = form.get(CSRF_FIELD)
    token = request.session.get(_CSRF)
    if not isinstance(sent, str) or not isinstance(token, str) or not hmac.compare_digest(sent.encode(),
                                                                                          token.encode()):
        raise CsrfRefused("The form was sent without this session's security token (it may be from an old page, "
                          "or another site).")


def safe_next(target: str | None) -> str:
    """``target`` when it is a path under ``/pages`` (never another site), else the inbox."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/"


def page(title: str, content: str, status_code: int = 200) -> HTMLResponse:
    """A plain page of the sign-in flow, under the same header as the other pages: ``title`` as its heading,
    ``content`` (HTML, already escaped) below."""
    return HTMLResponse(f"""<!DOCTYPE html>
<html lang="en" class="govuk-template">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} – Concordat</title>
<link rel="stylesheet" href="{PREFIX}/assets/govuk/govuk-frontend.min.css"></head>
<body class="govuk-template__body">
<a href="#main-content" class="govuk-skip-link">Skip to main content</a>
<header class="govuk-header"><div class="govuk-header__container govuk-width-container">
<div class="govuk-header__logo"><a href="{PREFIX}/" class="govuk-header__homepage-link">
<span class="govuk-header__product-name">Concordat</span></a></div></div></header>
<section aria-label="Service information" class="govuk-service-navigation"><div class="govuk-width-container">
<div class="govuk-service-navigation__container"><span class="govuk-service-navigation__service-name">
<a href="{PREFIX}/" class="govuk-service-navigation__link">Shared services agreements</a></span></div></div></section>
<div class="govuk-width-container">
<main class="govuk-main-wrapper" id="main-content">
<h1 class="govuk-heading-l">{html.escape(title)}</h1>
{content}
</main>
</div>
</body>
</html>
""", status_code=status_code, headers={"Cache-Control": "no-store"})
