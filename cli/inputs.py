"""Reading a command's input: YAML or JSON files (or stdin), validated against the engine's models."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from cli.errors import EXIT_BAD_INPUT, CliError
from domain.errors import explain

ModelT = TypeVar("ModelT", bound=BaseModel)


def load_file(path: str) -> Any:
    """The data in the YAML or JSON file at ``path`` ('-': stdin). Raises ``CliError`` (exit 2)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as error:
        raise CliError(f"cannot read {path}: {error.strerror}", EXIT_BAD_INPUT) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CliError(f"{path} is not valid YAML or JSON: {error}", EXIT_BAD_INPUT) from None


def validated(model: type[ModelT], data: Any) -> ModelT:
    """``data`` as a ``model``; raises ``CliError`` (exit 2) naming every problem as an officer reads it."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise CliError(explain(error), EXIT_BAD_INPUT) from None
