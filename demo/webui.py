"""The Temporal Web UI page the demo points an officer to: the agreements, one row each."""

from __future__ import annotations

from urllib.parse import quote

from workflows.contract import WORKFLOW_TYPE

AGREEMENTS_QUERY = f"WorkflowType = '{WORKFLOW_TYPE}' AND ExecutionStatus IN ('Running', 'Completed', 'Terminated')"
"""One row per agreement: its running run, or its last run once it has closed. An agreement continues as new at
each review; the runs it continued from (``ContinuedAsNew``) are left out, and so are starts refused before the
agreement opened (``Failed``). Written with ``IN`` rather than ``!= 'ContinuedAsNew'``, which the Web UI's
filter shows as ``= ContinuedAsNew``."""


def agreements_url(ui_url: str, namespace: str = "default") -> str:
    """The Web UI's workflow list at ``ui_url`` (e.g. ``http://localhost:8233``) showing ``AGREEMENTS_QUERY``."""
    return f"{ui_url.rstrip('/')}/namespaces/{namespace}/workflows?query={quote(AGREEMENTS_QUERY)}"
