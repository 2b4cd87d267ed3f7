"""The command line's exit codes, and the error a command raises to stop with one."""

from __future__ import annotations

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE, EXIT_OUTCOME_UNKNOWN = 1, 2, 3, 4
"""1: refused or failed (for ``verify``: tampering or a broken chain); 2: bad input or configuration; 3: Temporal
or the database cannot be reached or read; 4: an action's outcome is unknown (check status, send it again with
the same action id)."""


class CliError(Exception):
    """Stop the command: ``str()`` goes to stderr as one line, ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code
