"""Which seam a command acts through: Temporal directly, or the Concordat API with ``--api``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from temporalio.client import Client

from cli.errors import EXIT_BAD_INPUT, CliError
from runtime.settings import Settings
from workflows.client import AgreementClient
from workflows.seam import Agreements


def add_api_options(parser: argparse.ArgumentParser) -> None:
    """``--api URL`` (default CONCORDAT_API_URL) and ``--token-file FILE``, for commands that may act through
    the HTTP API."""
    parser.add_argument("--api", metavar="URL", default=os.environ.get("CONCORDAT_API_URL") or None,
                        help="act through the Concordat API at URL as the holder of a token (CONCORDAT_TOKEN or "
                        "--token-file), instead of directly on Temporal; default CONCORDAT_API_URL")
    parser.add_argument("--token-file", metavar="FILE", help="a file holding the bearer token for --api")


def agreements_for(client: Client | None, settings: Settings, args: argparse.Namespace) -> Agreements:
    """The HTTP API as the token's holder with ``--api``, else Temporal (``client``, connected by the caller).
    Raises ``CliError`` (exit 2) when ``--api`` has no token."""
    if not getattr(args, "api", None):
        if client is None:
            raise CliError("not connected to Temporal", EXIT_BAD_INPUT)
        return AgreementClient(client, settings.task_queue)
    from api.client import ApiClient  # only with --api: the Temporal path needs no HTTP client

    token = Path(args.token_file).read_text().strip() if args.token_file else os.environ.get("CONCORDAT_TOKEN", "")
    if not token.strip():
        raise CliError("--api needs a token: set CONCORDAT_TOKEN or pass --token-file", EXIT_BAD_INPUT)
    return ApiClient(args.api, token.strip())
