"""The demonstration OpenID provider (``idp/server.mjs``, npm ``oidc-provider``): one issuer per council, the
councils' people in a JSON file, the pages' client registered at each issuer. The demo runs it for its councils'
officers (``demo_councils``); the tests for the seed's councils (``tests/helpers/oidc.py``).

Signing in there is password-less (the person picks their account on the provider's page): it is for
demonstrations and tests only.

``python -m demo.idp`` prints the demo councils' file for pages served at http://localhost:8088, without the
client secret (the provider reads it from IDP_CLIENT_SECRET): ``idp/demo-councils.json``, which the provider's
image (``idp/Dockerfile``, docker compose's ``demo`` profile) runs with.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from demo.portfolio import PORTFOLIO

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "idp" / "server.mjs"
NODE = shutil.which("node")
CLIENT_ID = "concordat-pages"
READY = re.compile(r"concordat-idp ready (\{.*\})$")


@dataclass(frozen=True)
class Person:
    """A person of the council ``body``: their name, email (verified) and role; their subject at the council's
    issuer is derived from the email, so it is the same on every run."""

    body: str
    name: str
    email: str
    role: str = ""

    @property
    def sub(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{self.email}"))

    @property
    def oid(self) -> str:
        """Their object id, which the provider's tokens carry beside ``sub`` as Entra ID's do (``oid``: the same
        person in every application; an issuer the directory names so is read by it)."""
        return str(uuid.uuid5(uuid.NAMESPACE_OID, self.email))


@dataclass(frozen=True)
class Council:
    """A council (its body code and name) and the people who sign in through its issuer."""

    code: str
    name: str
    people: tuple[Person, ...]


def council(partner: dict, domain: str, emails: dict[str, str] | None = None) -> Council:
    """The council of a proposal's ``partner``, its signatories as people (email from ``emails`` by name, else
    first.last@``domain``)."""
    people = tuple(Person(partner["code"], s["name"], (emails or {}).get(
        s["name"], f"{'.'.join(s['name'].lower().split())}@{domain}"), s.get("role", ""))
        for s in partner["signatories"])
    return Council(partner["code"], partner["name"], people)


def demo_councils() -> list[Council]:
    """Every council of the demo portfolio, with its signatories (each council once, in the portfolio's order;
    addresses under demo.concordat.test, which goes nowhere)."""
    found: dict[str, Council] = {}
    for persona in PORTFOLIO:
        for partner in persona.proposal["partners"]:
            if partner["code"] not in found:
                found[partner["code"]] = council(partner, f"{partner['code'].lower()}.demo.concordat.test")
    return list(found.values())


def provider_config(councils: Iterable[Council], client_secret: str | None, pages_url: str) -> dict:
    """The JSON ``idp/server.mjs`` reads: the councils and their people, and the pages' client (``CLIENT_ID``,
    ``client_secret``: None leaves it to the provider's environment, IDP_CLIENT_SECRET) with each council's
    redirect URI ``{pages_url}/pages/signed-in/{code}``."""
    councils = list(councils)
    secret = {"client_secret": client_secret} if client_secret is not None else {}
    return {
        "client": {"client_id": CLIENT_ID, **secret,
                   "redirect_uris": [f"{pages_url}/pages/signed-in/{c.code}" for c in councils]},
        "councils": {c.code: {"name": c.name, "people": [
            {"sub": p.sub, "oid": p.oid, "name": p.name, "email": p.email, "email_verified": True}
            for p in c.people]}
            for c in councils},
    }


class ProviderProcess:
    """``node idp/server.mjs --config CONFIG``: started by ``start``, which waits for its ready line and reads
    each council's issuer from it; its output is kept (and written to ``log`` when given)."""

    def __init__(self, config: Path, host: str = "127.0.0.1", port: int = 0, log: Path | None = None) -> None:
        self.config, self.host, self.port, self.log = config, host, port, log
        self.issuers: dict[str, str] = {}
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    @staticmethod
    def missing() -> str | None:
        """Why the provider cannot run here (Node.js or its packages missing), or None."""
        if NODE is None:
            return "Node.js is not installed (apt-get install nodejs npm)"
        if not (ROOT / "idp" / "node_modules" / "oidc-provider").is_dir():
            return "the OpenID provider's packages are not installed (npm ci --prefix idp; scripts/install.sh does)"
        return None

    def start(self, timeout: float = 60) -> ProviderProcess:
        """Start the server and wait for its ready line; raises ``RuntimeError`` with its output otherwise."""
        why = self.missing()
        if why is not None:
            raise RuntimeError(why)
        assert NODE is not None
        self._process = subprocess.Popen(
            [NODE, str(SERVER), "--config", str(self.config), "--host", self.host, "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        ready = threading.Event()
        log = open(self.log, "a") if self.log else None  # noqa: SIM115 - the reader thread writes until exit
        threading.Thread(target=self._read, args=(ready, log), daemon=True).start()
        if not ready.wait(timeout) or not self.issuers:
            self.stop()
            raise RuntimeError("the OpenID provider did not start:\n" + "".join(self.output))
        return self

    def _read(self, ready: threading.Event, log: IO[str] | None) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)
            if log is not None:
                log.write(line)
                log.flush()
            found = READY.match(line.strip())
            if found:
                self.issuers = json.loads(found.group(1))["issuers"]
                ready.set()
        ready.set()
        if log is not None:
            log.close()

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait for it to exit."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


COMPOSE_PAGES_URL = "http://localhost:8088"
"""Where docker compose publishes the API, and so the pages (``docker-compose.yml``)."""


def main(argv: list[str] | None = None) -> None:
    """Print the demo councils' file (``idp/demo-councils.json``) for the pages at ``--pages-url``."""
    parser = argparse.ArgumentParser(prog="python -m demo.idp", description=main.__doc__)
    parser.add_argument("--pages-url", default=COMPOSE_PAGES_URL, help="the pages' public URL, without /pages")
    args = parser.parse_args(argv)
    print(json.dumps(provider_config(demo_councils(), None, args.pages_url.rstrip("/")), indent=2))


if __name__ == "__main__":
    main()
