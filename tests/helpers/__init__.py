"""Helpers for Concordat's tests, after sdk-python's ``tests/helpers``: waiting for a condition, and a free port.

The rest live in modules of their own: ``factories`` (realistic agreements, as requests and JSON),
``builders`` (typed actions, for domain and workflow tests alike), ``agreements`` (agreements walked to a stage by
the domain's rules), ``environments`` (the Temporal servers tests run against, by ``--workflow-environment``),
``harness`` (a worker and the agreements a test drives), ``processes`` (the worker and dev server as processes),
``receivers`` (a webhook receiver), ``council_portfolio`` (a council portfolio for the board report) and
``nondeterministic`` (a workflow change replay must catch).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def assert_eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 20.0, interval: float = 0.05) -> T:
    """Call ``check`` every ``interval`` seconds until it returns something truthy, and return that.

    Raises ``AssertionError`` naming the last result if nothing truthy comes back within ``timeout`` seconds
    (real time, not the time-skipping server's clock).
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last result: {result!r})")
        await asyncio.sleep(interval)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
