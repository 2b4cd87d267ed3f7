"""The codec server: lets the Temporal Web UI and CLI show encrypted payloads to those allowed to see them.

    CONCORDAT_ENCRYPTION_KEYS=... CONCORDAT_CODEC_TOKEN=... concordat-codec-server --port 8081

(``python -m runtime.codec_server`` in a checkout). It speaks Temporal's remote codec protocol:
``POST .../decode`` and ``POST .../encode`` take and return ``{"payloads": [...]}`` (the protobuf JSON of
``Payloads``), under any path prefix, so that ``https://codec.example/{namespace}`` works too. Every POST
needs ``Authorization: Bearer <token>`` with the token from ``CONCORDAT_CODEC_TOKEN``; it decrypts officials'
names, so it must also sit behind the organisation's authentication. The browser's CORS preflight is
answered for the one UI origin in ``CONCORDAT_CODEC_UI_ORIGIN``. Standard library only: the traffic is one
UI's page views.
"""

from __future__ import annotations

import argparse
import hmac
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from runtime.encryption import DecryptionError, EncryptionCodec
from runtime.settings import ConfigurationError, Settings

TOKEN_VARIABLE = "CONCORDAT_CODEC_TOKEN"
ORIGIN_VARIABLE = "CONCORDAT_CODEC_UI_ORIGIN"
DEFAULT_UI_ORIGIN = "http://localhost:8080"
MAX_BODY_BYTES = 16 * 1024 * 1024


def build_server(
    codec: EncryptionCodec, token: str, ui_origin: str, host: str = "127.0.0.1", port: int = 8081
) -> ThreadingHTTPServer:
    """A server that is bound but not yet serving; call ``serve_forever`` (port 0 picks a free one)."""
    if not token:
        raise ValueError(f"{TOKEN_VARIABLE} must not be empty")
    operations: dict[str, Callable[[Sequence[Payload]], list[Payload]]] = {
        "encode": codec.encrypt,
        "decode": codec.decrypt,
    }
    expected = f"Bearer {token}".encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "concordat-codec"

        def do_OPTIONS(self) -> None:
            """The preflight carries no credentials, so it is answered without the token."""
            self._reply(HTTPStatus.NO_CONTENT)

        def do_POST(self) -> None:
            operation = operations.get(self.path.rstrip("/").rsplit("/", 1)[-1])
            if operation is None:
                return self._reply(HTTPStatus.NOT_FOUND, {"error": "use POST .../encode or .../decode"})
            given = self.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return self._reply(HTTPStatus.UNAUTHORIZED, {"error": "a valid bearer token is required"})
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
            try:
                payloads = json_format.Parse(self.rfile.read(length), Payloads())
                result = Payloads(payloads=operation(payloads.payloads))
            except json_format.ParseError as error:
                return self._reply(HTTPStatus.BAD_REQUEST, {"error": f"not a Payloads JSON object: {error}"})
            except DecryptionError as error:
                return self._reply(HTTPStatus.BAD_REQUEST, {"error": str(error)})
            self._reply(HTTPStatus.OK, json_format.MessageToDict(result))

        def _reply(self, status: HTTPStatus, body: Mapping[str, Any] | None = None) -> None:
            content = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if self.headers.get("Origin") == ui_origin:
                self.send_header("Access-Control-Allow-Origin", ui_origin)
                self.send_header("Access-Control-Allow-Credentials", "true")
                self.send_header("Access-Control-Allow-Methods", "POST, OPTIONS")
                self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
                self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Vary", "Origin")
            self.send_header("Cache-Control", "no-store")  # decrypted names must not linger in caches
            if body is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            """One line per request on stderr, with the status, never a payload."""
            sys.stderr.write(f"codec_server {self.address_string()} {format % args}\n")

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """The ``concordat-codec-server`` command: serve until SIGINT or SIGTERM (exit 0); exit 2 when the keys or
    the token are not configured. ``argv`` defaults to the command line, ``environ`` to the process's."""
    parser = argparse.ArgumentParser(prog="concordat-codec-server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to listen on (default 8081)")
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        codec = Settings.from_environment(environ).payload_codec()
        if codec is None:
            raise ConfigurationError("CONCORDAT_ENCRYPTION_KEYS is not set: the codec server needs the keys")
        if not environ.get(TOKEN_VARIABLE):
            raise ConfigurationError(f"{TOKEN_VARIABLE} is not set: the codec server refuses unauthenticated use")
    except ConfigurationError as error:
        print(f"codec server: bad configuration: {error}", file=sys.stderr)
        return 2
    ui_origin = environ.get(ORIGIN_VARIABLE, DEFAULT_UI_ORIGIN).rstrip("/")
    server = build_server(codec, environ[TOKEN_VARIABLE], ui_origin, args.host, args.port)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    serving = threading.Thread(target=server.serve_forever, name="codec-server")
    serving.start()
    print(f"codec server on http://{args.host}:{server.server_port} (UI origin {ui_origin}, "
          f"key {codec.key_id} encrypts)", flush=True)
    stop.wait()
    server.shutdown()  # serve_forever returns; requests in flight finish on their own threads
    serving.join()
    server.server_close()
    print("codec server stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
