"""Save the histories of agreements from a running Temporal server, for the replay tests.

    python scripts/capture_histories.py --query "WorkflowType = 'AgreementWorkflow'" --out tests/histories/captured
    python scripts/capture_histories.py --workflow-id agreement-waste-2027 --out /tmp/histories

Connection settings come from the environment (TEMPORAL_ADDRESS etc.), as for the worker. Concordat must be
installed in the Python that runs it (``pip install -e .``, as scripts/test.sh does).
Each run of each workflow (continue-as-new starts a new run) becomes one JSON file.
"""

import argparse
import asyncio
import sys
from pathlib import Path

from temporalio.client import Client

from runtime.service import exit_now
from runtime.temporal import connect_temporal


async def save_runs(client: Client, workflow_id: str, out: Path, name: str | None = None) -> list[Path]:
    """Write every run of ``workflow_id`` to ``out``; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    async for execution in client.list_workflows(f"WorkflowId = '{workflow_id}'"):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        path = out / f"{name or workflow_id}-{execution.start_time:%Y%m%dT%H%M%S%f}.json"
        path.write_text(history.to_json())
        written.append(path)
    return written


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--query", help="a visibility query selecting the agreements")
    parser.add_argument("--workflow-id", action="append", default=[], help="one agreement's workflow id; repeatable")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the histories to")
    args = parser.parse_args(argv)
    if not args.query and not args.workflow_id:
        parser.error("give --query or --workflow-id")
    client = await connect_temporal()
    ids = list(args.workflow_id)
    if args.query:
        ids += sorted({execution.id async for execution in client.list_workflows(args.query)})
    count = 0
    for workflow_id in ids:
        count += len(await save_runs(client, workflow_id, args.out))
    print(f"saved {count} histories of {len(ids)} agreements to {args.out}")
    return 0


if __name__ == "__main__":
    exit_now(asyncio.run(main(sys.argv[1:])))
