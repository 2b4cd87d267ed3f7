"""The command line's exit codes, and the error a command raises to stop with one."""

from __future__ import annotations

EXIT_REFUSED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 1, 2, 3
"""1: refused or failed; 2: bad input or configuration; 3: Temporal or the database cannot be reached."""


class CliError(Exception):
    """Stop the command: ``str()`` goes to stderr as one line, ``code`` is the exit code."""

    def __init__(self, message: str, code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.code = code
