"""Signing in to the pages with the person's own council's OpenID provider: authorization code flow with PKCE.

``GET /pages/sign-in`` lists the bodies whose people sign in here; ``GET /pages/sign-in/{body}`` sends the person
to that body's issuer (Authlib's Starlette client: the issuer's discovery document, ``code_challenge_method``
S256, state and nonce kept in the session); ``GET /pages/signed-in/{body}`` is the redirect URI the issuer sends
them back to: Authlib exchanges the code (with the PKCE verifier and the client secret) and validates the ID
token (signature from the issuer's JWKS, issuer, audience, nonce, expiry). The person is then read from the ID
token as ``api.tokens`` reads an access token (``caller_of``: ``sub``, or ``oid`` for an issuer the directory
configures so) and signed in only when the directory lists that issuer for the body
(``api.authority.Authority.speaks_for``); otherwise a 403 page says why, and no session is made.
``GET /pages/account`` shows the person signed in (their issuer and subject: the identity a signatory binds) with
the sign-out button; ``POST /pages/sign-out`` (with the form's CSRF token) ends the session.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.authority import Authority
from api.tokens import Unauthenticated, caller_of, trusted_issuer
from web import session
from web.settings import PagesSettings

_NEXT = "next"


def log() -> structlog.stdlib.BoundLogger:
    """The pages' logger, looked up at each use."""
    return structlog.get_logger("concordat.pages")


def router(settings: PagesSettings, authority: Callable[[], Awaitable[Authority]]) -> APIRouter:
    """The sign-in routes (to be included under ``/pages``), for the bodies of ``settings.clients``, checking
    issuers against the directory ``authority`` reads."""
    oauth = OAuth()
    for body, client in settings.clients.items():
        oauth.register(name=body, client_id=client.client_id, client_secret=client.client_secret,
                       server_metadata_url=client.discovery_url,
                       client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256",
                                      "token_endpoint_auth_method": "client_secret_basic", "timeout": 10})
    routes = APIRouter(include_in_schema=False)

    def client_of(body: str) -> StarletteOAuth2App | None:
        return oauth.create_client(body) if body in settings.clients else None

    @routes.get("/sign-in")
    async def choose(request: Request, next: str | None = None) -> HTMLResponse:
        target = html.escape(quote(session.safe_next(next), safe='/'), quote=True)
        items = "".join(f'<li><a class="govuk-link" href="{session.PREFIX}/sign-in/{html.escape(body)}?next='
                        f'{target}">{html.escape(client.name or body)}</a></li>'
                        for body, client in sorted(settings.clients.items(), key=lambda item: _name(settings, item[0])))
        return session.page("Sign in", '<p class="govuk-body">Sign in with your council\'s account.</p>'
                            f'<ul class="govuk-list">{items}</ul>')

    @routes.get("/sign-in/{body}")
    async def start(request: Request, body: str, next: str | None = None) -> Response:
        client = client_of(body)
        if client is None:
            return session.page("Page not found", '<p class="govuk-body">No council signs in here under that '
                                f'name. <a class="govuk-link" href="{session.PREFIX}/sign-in">Choose your '
                                "council</a>.</p>", status_code=404)
        request.session[_NEXT] = session.safe_next(next)
        try:
            redirect: Response = await client.authorize_redirect(request, settings.redirect_uri(body))
        except (httpx.HTTPError, OAuthError, ValueError) as error:  # the discovery document unreachable or bad
            log().warning("sign_in_unavailable", body=body, error=str(error))
            return session.page("Sign-in is unavailable", '<p class="govuk-body">Your council\'s sign-in '
                                "service could not be reached. Try again in a few minutes.</p>", status_code=503)
        return redirect

    @routes.get("/signed-in/{body}")
    async def finish(request: Request, body: str) -> Response:
        client = client_of(body)
        if client is None:
            return session.page("Page not found", '<p class="govuk-body">No council signs in here under that '
                                "name.</p>", status_code=404)
        try:
            token: dict[str, Any] = await client.authorize_access_token(request)
        except OAuthError as error:
            log().warning("sign_in_failed", body=body, error=error.error, description=error.description)
            return _again(body, f"Your council's sign-in did not complete ({error.error}).", 400)
        claims = token.get("userinfo")
        if not isinstance(claims, dict):
            return _again(body, "Your council's sign-in did not send an ID token.", 400)
        checks = await authority()
        issuer = str(claims.get("iss"))
        trusted = trusted_issuer(checks.settings, issuer, checks.directory)
        try:
            caller = caller_of(claims, trusted[2] if trusted else "sub", checks.settings.identity_claim)
        except Unauthenticated as error:
            return _again(body, f"Your council's sign-in did not say who you are ({error}).", 400)
        if not checks.speaks_for(caller, body):
            log().warning("sign_in_refused", body=body, issuer=issuer, subject=caller.subject, name=caller.name)
            return session.page("You cannot sign in for this council", '<p class="govuk-body">'
                                f"You signed in through {html.escape(issuer)}, which does not speak for "
                                f"{html.escape(_name(settings, body))} in Concordat's directory.</p>"
                                '<p class="govuk-body">Sign in with your own council\'s account, or ask your '
                                "council's Concordat administrator to list its identity provider.</p>"
                                f'<p class="govuk-body"><a class="govuk-link" href="{session.PREFIX}/sign-in">'
                                "Choose your council</a></p>", status_code=403)
        target = session.safe_next(request.session.get(_NEXT))
        session.sign_in(request, caller, body)
        log().info("signed_in", body=body, issuer=caller.issuer, subject=caller.subject, name=caller.name)
        return RedirectResponse(target, status_code=303)

    @routes.get("/account")
    async def account(request: Request, person: session.Person) -> HTMLResponse:
        body = session.signed_in_body(request) or ""
        rows = (("Name", person.name), ("Council", _name(settings, body) if body in settings.clients else body),
                ("Identity provider (issuer)", person.issuer), ("Subject", person.subject))
        summary = "".join(f'<div class="govuk-summary-list__row"><dt class="govuk-summary-list__key">{key}</dt>'
                          f'<dd class="govuk-summary-list__value">{html.escape(value)}</dd></div>'
                          for key, value in rows)
        return session.page("Your sign-in", f'<dl class="govuk-summary-list">{summary}</dl>'
                            f'<form method="post" action="{session.PREFIX}/sign-out" novalidate>'
                            f'<input type="hidden" name="{session.CSRF_FIELD}" value="'
                            f'{html.escape(session.csrf_token(request), quote=True)}">'
                            '<button type="submit" class="govuk-button govuk-button--secondary" '
                            'data-module="govuk-button">Sign out</button></form>')

    @routes.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        async with request.form() as form:
            await session.check_csrf(request, form)
        caller = session.signed_in(request)
        session.sign_out(request)
        if caller is not None:
            log().info("signed_out", issuer=caller.issuer, subject=caller.subject)
        return session.page("You have signed out", '<p class="govuk-body"><a class="govuk-link" '
                            f'href="{session.PREFIX}/sign-in">Sign in again</a></p>')

    def _again(body: str, message: str, status_code: int) -> HTMLResponse:
        return session.page("Sign-in did not complete", f'<p class="govuk-body">{html.escape(message)}</p>'
                            f'<p class="govuk-body"><a class="govuk-link" href="{session.PREFIX}/sign-in/'
                            f'{html.escape(body)}">Try again</a></p>', status_code=status_code)

    return routes


def _name(settings: PagesSettings, body: str) -> str:
    return settings.clients[body].name or body
