"""The README's command-line walk-through, run as written against a running stack."""

import asyncio
import re
from pathlib import Path

from demo.stack import EmbeddedStack
from tests.helpers.harness import Harness

ROOT = Path(__file__).resolve().parent.parent


def walk_through() -> str:
    """The first bash block under "### The command line", exactly as the README has it."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### The command line\n"):]
    return re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)


async def test_the_readmes_walk_through_runs_in_order(dev_harness: Harness, postgres_dsn: str, tmp_path: Path):
    """In a folder laid out like a checkout (starter.py, examples/, .venv/) whose .data/concordat.env is written as
    the demo writes it for its stack: here the test's dev server, PostgreSQL and worker."""
    for name in ("starter.py", "examples", ".venv"):
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / ".data").mkdir()
    stack = EmbeddedStack(tmp_path / ".data", temporal_address=dev_harness.client.service_client.config.target_host,
                          database_url=postgres_dsn)
    stack.write_client_settings(tmp_path / ".data" / "concordat.env")
    dev_harness.started.append(dev_harness.client.get_workflow_handle("agreement-waste-2027"))
    script = "set -euo pipefail -x\n" + walk_through()
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", script, cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "CONCORDAT_TASK_QUEUE": dev_harness.task_queue},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await process.communicate())[0].decode()
    assert process.returncode == 0, output
    assert "Rejected: sign-off rejected by Tamworth Borough Council (Owen Hughes)" in output
    assert "Owen Hughes (Tamworth Borough Council)\tREJECTED it at sign-off\tour contribution is too high" in output
    assert "hash chain verified: waste-2027" in output
