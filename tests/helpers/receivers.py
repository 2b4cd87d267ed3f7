"""A real HTTP webhook receiver on localhost for delivery tests: it keeps every request, can
refuse the first few tries of each delivery, and can hold requests until released."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dispatcher.signature import DELIVERY_ID_HEADER


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def delivery_id(self) -> str:
        return self.headers[DELIVERY_ID_HEADER]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """Answers ``fail_status`` (500 unless set) to the first ``fail_first`` tries of each delivery id, then 200.

    While ``hold`` is set, each request waits until ``release()`` (to be caught mid-delivery).
    """

    fail_first: int = 0
    fail_status: int = 500
    hold: bool = False
    requests: list[Request] = field(default_factory=list)
    _released: threading.Event = field(default_factory=threading.Event)
    _tries: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    holding: int = 0

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                if receiver.hold:
                    with receiver._lock:
                        receiver.holding += 1
                    receiver._released.wait(timeout=60)
                with receiver._lock:
                    receiver._tries[headers.get(DELIVERY_ID_HEADER, "")] += 1
                    failing = receiver._tries[headers.get(DELIVERY_ID_HEADER, "")] <= receiver.fail_first
                    status = receiver.fail_status if failing else 200
                    receiver.requests.append(Request(self.path, headers, body, status))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"refused for the test" if status != 200 else b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> None:
        self.hold = False
        self._released.set()

    def stop(self) -> None:
        self.release()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def accepted(self, path: str | None = None) -> list[Request]:
        """Requests answered 200, optionally only those to ``path``."""
        return [r for r in self.requests if r.status == 200 and (path is None or r.path == path)]
