"""The directory (tables ``directory_*``, migration 0004): which issuers speak for which body, who reads across
bodies, and the append-only record of every change to them.

An issuer speaks for a body when the body's administrators asked the deployment's administrators to add it: its
tokens (``iss`` the issuer, ``aud`` the audience, signed with keys published at the JWKS URL) then prove people
of that body. A read grant lets one person (issuer and subject) read the agreements of one body, or of every
body (``*``): a programme office, an auditor. Each change is one transaction with its row in
``directory_changes`` (who, when, what), which no one can alter or delete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from store.database import Pool

EVERY_BODY = "*"
"""The body of a read grant across every body."""

Role = Literal["programme_office", "auditor"]
ROLES: tuple[Role, ...] = ("programme_office", "auditor")
SUBJECT_CLAIMS = ("sub", "oid")
"""The claims that may name a person for good: ``sub``, or Entra ID's object id ``oid``."""


@dataclass(frozen=True)
class IssuerEntry:
    """An issuer that speaks for ``body``: its tokens' ``iss``, where its keys are, the audience its tokens
    carry for this API, (Microsoft Entra ID) its tenant id, and the claim that names a person for good
    (``sub``; Entra ID ``oid``, the object id)."""

    body: str
    issuer: str
    jwks_url: str
    audience: str
    tenant: str | None = None
    subject_claim: str = "sub"


@dataclass(frozen=True)
class ReadGrant:
    """The person ``subject`` at ``issuer`` reads the agreements of ``body`` (``*``: every body) as ``role``."""

    issuer: str
    subject: str
    role: str
    body: str = EVERY_BODY


@dataclass(frozen=True)
class Change:
    """One recorded change to the directory."""

    seq: int
    changed_at: datetime
    changed_by: str
    change: str
    details: dict[str, Any]


@dataclass(frozen=True)
class Directory:
    """The directory at one moment: every issuer entry and read grant."""

    issuers: tuple[IssuerEntry, ...] = ()
    grants: tuple[ReadGrant, ...] = ()

    def bodies_of_issuer(self, issuer: str) -> frozenset[str]:
        """The bodies ``issuer`` speaks for (none when it is not in the directory)."""
        return frozenset(entry.body for entry in self.issuers if entry.issuer == issuer)

    def issuers_of_body(self, body: str) -> frozenset[str]:
        """The issuers that speak for ``body``."""
        return frozenset(entry.issuer for entry in self.issuers if entry.body == body)

    def issuer(self, issuer: str) -> IssuerEntry | None:
        """The first entry of ``issuer`` (its JWKS URL and audience are the same in each: ``add_issuer`` sees to
        it), or None."""
        return next((entry for entry in self.issuers if entry.issuer == issuer), None)

    def read_grants(self, issuer: str, subject: str) -> tuple[ReadGrant, ...]:
        """The read grants of the person ``subject`` at ``issuer``."""
        return tuple(g for g in self.grants if g.issuer == issuer and g.subject == subject)


class DirectoryRefused(ValueError):
    """A change the directory refuses (nothing was changed); the message says why."""


async def load(pool: Pool) -> Directory:
    """The directory as it now stands."""
    async with pool.acquire() as conn:
        issuers = await conn.fetch("SELECT body, issuer, jwks_url, audience, tenant, subject_claim "
                                   "FROM directory_issuers ORDER BY body, issuer")
        grants = await conn.fetch("SELECT issuer, subject, role, body FROM directory_grants "
                                  "ORDER BY issuer, subject, role, body")
    return Directory(issuers=tuple(IssuerEntry(**dict(row)) for row in issuers),
                     grants=tuple(ReadGrant(**dict(row)) for row in grants))


async def add_issuer(pool: Pool, entry: IssuerEntry, *, by: str) -> None:
    """Let ``entry.issuer`` speak for ``entry.body``, recorded as changed ``by`` (the administrator).

    Raises ``DirectoryRefused`` for a subject claim not in ``SUBJECT_CLAIMS``, when the issuer already speaks for
    the body, or when it is in the directory with another JWKS URL, audience or subject claim (one issuer has one
    set of keys and names people one way)."""
    if entry.subject_claim not in SUBJECT_CLAIMS:
        raise DirectoryRefused(f"no subject claim {entry.subject_claim!r}: it is one of {', '.join(SUBJECT_CLAIMS)}")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("LOCK TABLE directory_issuers IN SHARE ROW EXCLUSIVE MODE")
        known = await conn.fetchrow("SELECT jwks_url, audience, subject_claim FROM directory_issuers "
                                    "WHERE issuer = $1 LIMIT 1", entry.issuer)
        if known is not None and tuple(known) != (entry.jwks_url, entry.audience, entry.subject_claim):
            raise DirectoryRefused(f"{entry.issuer} is in the directory with JWKS {known['jwks_url']}, audience "
                                   f"{known['audience']} and subject claim {known['subject_claim']}; one issuer has "
                                   "one set of keys, one audience and one subject claim")
        added = await conn.fetchval(
            "INSERT INTO directory_issuers (body, issuer, jwks_url, audience, tenant, subject_claim) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING body", entry.body, entry.issuer,
            entry.jwks_url, entry.audience, entry.tenant, entry.subject_claim)
        if added is None:
            raise DirectoryRefused(f"{entry.issuer} already speaks for {entry.body}")
        await _record(conn, by, "issuer_added", entry.__dict__)


async def remove_issuer(pool: Pool, body: str, issuer: str, *, by: str) -> None:
    """Stop ``issuer`` speaking for ``body``; raises ``DirectoryRefused`` when it does not."""
    async with pool.acquire() as conn, conn.transaction():
        removed = await conn.fetchval("DELETE FROM directory_issuers WHERE body = $1 AND issuer = $2 RETURNING body",
                                      body, issuer)
        if removed is None:
            raise DirectoryRefused(f"{issuer} does not speak for {body}")
        await _record(conn, by, "issuer_removed", {"body": body, "issuer": issuer})


async def grant(pool: Pool, grant: ReadGrant, *, by: str) -> None:
    """Give ``grant``; raises ``DirectoryRefused`` for a role not in ``ROLES`` or a grant already given."""
    if grant.role not in ROLES:
        raise DirectoryRefused(f"no role {grant.role!r}: the roles are {', '.join(ROLES)}")
    async with pool.acquire() as conn, conn.transaction():
        added = await conn.fetchval(
            "INSERT INTO directory_grants (issuer, subject, role, body) VALUES ($1, $2, $3, $4) "
            "ON CONFLICT DO NOTHING RETURNING role", grant.issuer, grant.subject, grant.role, grant.body)
        if added is None:
            raise DirectoryRefused(f"{grant.subject} at {grant.issuer} already reads {grant.body} as {grant.role}")
        await _record(conn, by, "read_granted", grant.__dict__)


async def revoke(pool: Pool, grant: ReadGrant, *, by: str) -> None:
    """Take back ``grant``; raises ``DirectoryRefused`` when it was not given."""
    async with pool.acquire() as conn, conn.transaction():
        removed = await conn.fetchval(
            "DELETE FROM directory_grants WHERE issuer = $1 AND subject = $2 AND role = $3 AND body = $4 "
            "RETURNING role", grant.issuer, grant.subject, grant.role, grant.body)
        if removed is None:
            raise DirectoryRefused(f"{grant.subject} at {grant.issuer} has no {grant.role} grant on {grant.body}")
        await _record(conn, by, "read_revoked", grant.__dict__)


async def changes(pool: Pool, *, limit: int = 100) -> list[Change]:
    """The last ``limit`` changes to the directory, oldest first."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT seq, changed_at, changed_by, change, details::text AS details FROM "
                                "(SELECT * FROM directory_changes ORDER BY seq DESC LIMIT $1) last ORDER BY seq",
                                limit)
    return [Change(**{**dict(row), "details": json.loads(row["details"])}) for row in rows]


async def agreements_of_bodies(pool: Pool, bodies: frozenset[str]) -> set[str]:
    """The ids of the agreements any of ``bodies`` is or was a partner of, as the ledger's proposals (opening,
    revisions) and variations name them."""
    if not bodies:
        return set()
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT DISTINCT agreement_id FROM decisions
               WHERE (kind IN ('agreement_opened', 'proposal_revised') AND EXISTS (
                        SELECT 1 FROM jsonb_array_elements(payload->'proposal'->'partners') partner
                        WHERE partner->>'code' = ANY($1::text[])))
                  OR (kind = 'variation_proposed' AND EXISTS (
                        SELECT 1 FROM unnest($1::text[]) body WHERE jsonb_path_exists(payload,
                          '$.variation.changes[*] ? (@.body.code == $b || @.successors[*].code == $b)',
                          jsonb_build_object('b', body))))""", sorted(bodies))
    return {row["agreement_id"] for row in rows}


async def _record(conn: Any, by: str, change: str, details: dict[str, Any]) -> None:
    if not by.strip():
        raise DirectoryRefused("every change to the directory names who made it")
    await conn.execute("INSERT INTO directory_changes (changed_by, change, details) VALUES ($1, $2, $3::jsonb)",
                       by, change, json.dumps(details))
