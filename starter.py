"""The Concordat command line: ``python starter.py --help`` lists every command, ``python starter.py COMMAND
--help`` its flags. The commands live in the ``cli`` package (start here: ``cli/__init__.py`` shows examples,
``cli/parser.py`` every command and its handler). Exit codes: 0 done, 1 refused or failed, 2 bad input,
3 cannot connect.
"""

from __future__ import annotations

from cli.main import main, run_cli
from cli.parser import build_parser
from cli.status import print_status
from workflows.contract import UPDATES

__all__ = ["UPDATES", "build_parser", "main", "print_status", "run_cli"]

if __name__ == "__main__":
    from runtime.service import exit_now

    exit_now(main())
