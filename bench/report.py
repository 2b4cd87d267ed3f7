"""The board's report at scale: how long it takes for 1,000 and 10,000 agreements between real councils.

``python -m bench --only report`` (sizes by ``--report-sizes``, default 1000,10000). Each size is a portfolio
written by the domain's own rules into a database of its own on the benchmark's PostgreSQL
(``tests/helpers/council_portfolio.py``, the councils of ``../shared/data``), grown in steps so that the larger
includes the smaller. For each size: the **database time** (``report.data.read``, every query the report makes,
the best of three runs, its targets under 5 s at 1,000 and under a minute at 10,000), the time to render the
HTML page and its size, and, where Chromium is installed, the time to print the PDF and its pages.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from rich.console import Console

from report import data, render
from store.database import create_pool, migrate
from tests.helpers import council_portfolio

TARGETS_S = {1000: 5.0, 10000: 60.0}
"""The report's database time each size must stay under, in seconds (issue 27)."""
READS = 3
"""How many times the report is read at each size; the best counts (the first warms the cache)."""


async def measure(database_url: str, sizes: list[int], say: Callable[[str], None] = print) -> dict[str, Any]:
    """The report's times at each of ``sizes`` (agreements, ascending), in a database created for it on the
    server of ``database_url`` and dropped afterwards, each size's line given to ``say`` as it is measured.
    Returns {size: figures} (seconds, bytes, pages)."""
    name = f"bench_report_{int(time.time())}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    results: dict[str, Any] = {}
    try:
        pool = await create_pool(urlunsplit(urlsplit(database_url)._replace(path=f"/{name}")), max_size=4)
        try:
            await migrate(pool)
            written = 0
            for size in sorted(sizes):
                started = time.monotonic()
                await council_portfolio.write(pool, size, start=written)
                written = size
                results[str(size)] = {"write_s": time.monotonic() - started} | await _time_report(pool, size)
                say(lines({str(size): results[str(size)]})[0])
        finally:
            await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return results


async def _time_report(pool: asyncpg.Pool, size: int) -> dict[str, Any]:
    reads = []
    for _ in range(READS):
        started = time.perf_counter()
        content = await data.read(pool, council_portfolio.NOW)
        reads.append(time.perf_counter() - started)
    assert len(content.agreements) == size
    started = time.perf_counter()
    page = render.html(content)
    figures: dict[str, Any] = {
        "database_s": min(reads), "database_runs_s": reads, "render_html_s": time.perf_counter() - started,
        "html_bytes": len(page.encode()), "exceptions": len(content.exceptions),
        "target_database_s": TARGETS_S.get(size)}
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        with tempfile.TemporaryDirectory(prefix="concordat-report-") as tmp:
            html_file, pdf_file = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
            html_file.write_text(page, encoding="utf-8")
            started = time.perf_counter()
            try:
                render.pdf(html_file, pdf_file)
            except subprocess.SubprocessError as error:  # Chromium's limit (render.pdf): the figures stand
                figures["pdf_error"] = f"{type(error).__name__} after {time.perf_counter() - started:.0f} s"
            else:
                figures["pdf_s"] = time.perf_counter() - started
                figures["pdf_pages"] = len(re.findall(rb"/Type\s*/Page[^s]", pdf_file.read_bytes()))
    return figures


async def run(results: dict[str, Any], console: Console, sizes: str) -> None:
    """The benchmark's step: measure at ``sizes`` (comma-separated) on ``DATABASE_URL``'s server, store the
    figures in ``results["report"]``; each size's line is printed as it is measured."""
    results["report"] = await measure(os.environ["DATABASE_URL"], [int(size) for size in sizes.split(",") if size],
                                      lambda line: console.print(line, highlight=False))


def lines(results: dict[str, Any]) -> list[str]:
    """One line per size, as the benchmark prints them."""
    out = []
    for size, f in results.items():
        target = f.get("target_database_s")
        met = "met" if target is not None and f["database_s"] < target else "MISSED"
        verdict = "" if target is None else f" (target < {target:.0f} s: {met})"
        pdf = (f" pdf {f['pdf_s']:.1f} s, {f['pdf_pages']} pages;" if "pdf_s" in f
               else f" pdf not printed ({f['pdf_error']});" if "pdf_error" in f else "")
        out.append(f"report at {int(size):,} agreements: database {f['database_s']:.2f} s{verdict}; html "
                   f"{f['render_html_s']:.2f} s, {f['html_bytes'] / 1e6:.1f} MB;{pdf} {f['exceptions']} exceptions "
                   f"(portfolio written in {f['write_s']:.0f} s)")
    return out
