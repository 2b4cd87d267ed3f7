"""``starter.py directory``: the deployment administrators' directory of bodies and their identity providers.

Which issuers speak for which body (``add-issuer``, ``remove-issuer``; for Microsoft Entra ID give the tenant
with ``--entra-tenant`` and the issuer and keys are the tenant's), who reads across bodies (``grant``,
``revoke``: a programme office or an auditor, by issuer and subject), what the directory holds (``show``) and
every change made to it, by whom and when (``changes``). Each change names who made it (``--by``); the record of
changes is append-only. The API reads the directory again every ``CONCORDAT_API_DIRECTORY_SECONDS``.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

from rich.console import Console

from cli.errors import EXIT_BAD_INPUT, EXIT_REFUSED, EXIT_UNREACHABLE, CliError
from cli.output import print_json, print_table
from runtime.settings import Settings
from store import directory
from store.database import CONNECT_ERRORS, Pool, create_pool, migrate

ENTRA = "https://login.microsoftonline.com"
"""Microsoft Entra ID's sign-in host: a tenant's issuer is ``{ENTRA}/{tenant}/v2.0``, its keys
``{ENTRA}/{tenant}/discovery/v2.0/keys``."""

Work = Callable[[Pool, argparse.Namespace, Console], Awaitable[int]]


def register(commands: Any) -> None:
    """Add the ``directory`` command group to the command line's subcommands."""
    group = commands.add_parser("directory", help="which identity providers speak for which body; read grants",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = group.add_subparsers(title="directory commands", required=True, metavar="DIRECTORY_COMMAND")

    command = actions.add_parser("add-issuer", help="let an identity provider (issuer) speak for a body")
    command.add_argument("--body", required=True, metavar="CODE", help="the body's code (its GSS code)")
    where = command.add_mutually_exclusive_group(required=True)
    where.add_argument("--entra-tenant", metavar="TENANT", help="a Microsoft Entra ID tenant id: its issuer and keys")
    where.add_argument("--issuer", help="the issuer, exactly as its tokens' iss claim says")
    command.add_argument("--jwks-url", help="where the issuer publishes its keys (with --issuer)")
    command.add_argument("--audience", required=True, help="the aud claim its tokens carry for this API")
    command.add_argument("--subject-claim", choices=directory.SUBJECT_CLAIMS,
                         help="the claim naming a person for good (default: oid for an Entra ID tenant, else sub)")
    _by(command, _add_issuer)

    command = actions.add_parser("remove-issuer", help="stop an issuer speaking for a body")
    command.add_argument("--body", required=True, metavar="CODE")
    command.add_argument("--issuer", required=True)
    _by(command, _remove_issuer)

    for name, work, text in (("grant", _grant, "let a person read agreements across bodies"),
                             ("revoke", _revoke, "take back a read grant")):
        command = actions.add_parser(name, help=text)
        command.add_argument("--issuer", required=True, help="the issuer of the person's tokens")
        command.add_argument("--subject", required=True, help="the person's subject there (Entra ID: object id)")
        command.add_argument("--role", required=True, choices=directory.ROLES)
        command.add_argument("--body", default=directory.EVERY_BODY, metavar="CODE",
                             help="the body whose agreements they read (default: every body)")
        _by(command, work)

    command = actions.add_parser("show", help="the issuers of each body, and the read grants")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=_handler(_show), needs_temporal=False)

    command = actions.add_parser("changes", help="every change to the directory: who, when, what")
    command.add_argument("--limit", type=int, default=100, help="the last N changes (default %(default)s)")
    command.add_argument("--json", action="store_true", help="print JSON for scripts")
    command.set_defaults(handler=_handler(_changes), needs_temporal=False)


def _by(command: argparse.ArgumentParser, work: Work) -> None:
    command.add_argument("--by", required=True, metavar="ADMINISTRATOR",
                         help="who makes the change (recorded with it)")
    command.set_defaults(handler=_handler(work), needs_temporal=False)


def _handler(work: Work) -> Any:
    """Wrap a command: open the database (its schema current), run it, turn a refusal into an exit code."""

    async def handle(client: Any, settings: Settings, args: argparse.Namespace, console: Console) -> int:
        if not settings.database_url:
            raise CliError("DATABASE_URL is not set: the directory lives in PostgreSQL", EXIT_BAD_INPUT)
        try:
            pool = await create_pool(settings.database_url, max_size=2)
        except CONNECT_ERRORS as error:
            raise CliError(f"cannot reach the database: {error}", EXIT_UNREACHABLE) from None
        try:
            await migrate(pool)
            return await work(pool, args, console)
        except directory.DirectoryRefused as refused:
            raise CliError(str(refused), EXIT_REFUSED) from None
        finally:
            await pool.close()

    return handle


async def _add_issuer(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    if args.entra_tenant:
        if args.jwks_url:
            raise CliError("--jwks-url goes with --issuer; an Entra ID tenant's keys are its own", EXIT_BAD_INPUT)
        issuer, jwks_url = f"{ENTRA}/{args.entra_tenant}/v2.0", f"{ENTRA}/{args.entra_tenant}/discovery/v2.0/keys"
    elif not args.jwks_url:
        raise CliError("--issuer needs --jwks-url (where the issuer publishes its keys)", EXIT_BAD_INPUT)
    else:
        issuer, jwks_url = args.issuer, args.jwks_url
    if not jwks_url.startswith(("https://", "http://")):
        raise CliError("--jwks-url must be an http(s) URL", EXIT_BAD_INPUT)
    subject_claim = args.subject_claim or ("oid" if args.entra_tenant else "sub")
    entry = directory.IssuerEntry(body=args.body, issuer=issuer, jwks_url=jwks_url, audience=args.audience,
                                  tenant=args.entra_tenant, subject_claim=subject_claim)
    await directory.add_issuer(pool, entry, by=args.by)
    console.print(f"{issuer} now speaks for {args.body} (keys {jwks_url}, audience {args.audience})", markup=False)
    return 0


async def _remove_issuer(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    await directory.remove_issuer(pool, args.body, args.issuer, by=args.by)
    console.print(f"{args.issuer} no longer speaks for {args.body}", markup=False)
    return 0


def _read_grant(args: argparse.Namespace) -> directory.ReadGrant:
    return directory.ReadGrant(issuer=args.issuer, subject=args.subject, role=args.role, body=args.body)


async def _grant(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    await directory.grant(pool, _read_grant(args), by=args.by)
    console.print(f"{args.subject} at {args.issuer} reads {args.body} as {args.role}", markup=False)
    return 0


async def _revoke(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    await directory.revoke(pool, _read_grant(args), by=args.by)
    console.print(f"{args.subject} at {args.issuer} no longer reads {args.body} as {args.role}", markup=False)
    return 0


async def _show(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    held = await directory.load(pool)
    if args.json:
        print_json(console, {"issuers": [e.__dict__ for e in held.issuers],
                             "grants": [g.__dict__ for g in held.grants]})
        return 0
    print_table(console, "Issuers", ["Body", "Issuer", "Keys", "Audience", "Tenant", "Subject"],
                [[e.body, e.issuer, e.jwks_url, e.audience, e.tenant or "-", e.subject_claim] for e in held.issuers])
    print_table(console, "Read grants", ["Issuer", "Subject", "Role", "Body"],
                [[g.issuer, g.subject, g.role, g.body] for g in held.grants])
    return 0


async def _changes(pool: Pool, args: argparse.Namespace, console: Console) -> int:
    recorded = await directory.changes(pool, limit=args.limit)
    if args.json:
        print_json(console, [c.__dict__ for c in recorded])
        return 0
    print_table(console, "Directory changes", ["#", "When", "By", "Change", "Details"],
                [[str(c.seq), c.changed_at.isoformat(timespec="seconds"), c.changed_by, c.change,
                  ", ".join(f"{k}={v}" for k, v in c.details.items())] for c in recorded])
    return 0
