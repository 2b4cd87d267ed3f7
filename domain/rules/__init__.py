"""The rules of an agreement's lifecycle, one module per part of it, each rule a typed function of its action.

``RULES`` maps each action type to its ``Rule``; ``ACTION_KINDS`` maps each decision kind an action records
first back to the action's type (``signed_off``: ``SignOff``).
"""

from __future__ import annotations

from typing import Any

from domain.actions import Action
from domain.rules import delegation, delivery, proposal, review, sign_off, signatories, variation
from domain.rules.draft import Draft, Rule, either

RULES: dict[type[Action], Rule[Any]] = {
    rule.action: rule
    for module in (proposal, sign_off, delivery, review, variation, signatories, delegation)
    for rule in module.RULES
}
"""Every action the engine accepts, and its rule."""

ACTION_KINDS: dict[str, type[Action]] = {rule.kind: action for action, rule in RULES.items()}
"""The action model of each decision kind an action records first (``signed_off``: ``SignOff``)."""

__all__ = ["ACTION_KINDS", "RULES", "Draft", "Rule", "either"]
