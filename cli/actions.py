"""One subcommand per update of the agreement workflow (``record-sign-off``, ``decide-review``, ...), its flags
generated from the update's model, sent through the typed ``Agreements`` seam by the update method itself."""

from __future__ import annotations

import argparse
import typing
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, cast

from pydantic import BaseModel
from rich.console import Console
from temporalio.client import Client

from cli.errors import EXIT_BAD_INPUT, CliError
from cli.inputs import load_file, validated
from cli.output import print_json
from cli.seams import add_api_options, agreements_for
from cli.status import print_status
from domain.actions import Reply
from domain.status import AgreementStatus, Receipt
from runtime.settings import Settings
from workflows.agreement import AgreementWorkflow
from workflows.contract import UPDATES
from workflows.seam import ActionT, Agreements, Update, update_name

_SET_ELSEWHERE = ("actor", "attestation")
"""Fields no flag sets: the actor has --body and --signatory; the API sets an attestation."""


@dataclass(frozen=True)
class ActionCommand(Generic[ActionT]):
    """The subcommand of one update: its method on the workflow, and the model that method takes."""

    update: Update[ActionT]

    @property
    def name(self) -> str:
        """The update's name: ``record_sign_off`` (the subcommand is ``record-sign-off``)."""
        return update_name(self.update)

    @property
    def model(self) -> type[ActionT]:
        """The update's model; ``workflows.contract.UPDATES`` holds the model each update method takes."""
        return cast(type[ActionT], UPDATES[self.name])  # UPDATES is keyed by name, so its type forgets the model

    def parse(self, payload: dict[str, Any]) -> ActionT:
        """``payload`` as the update's model; raises ``CliError`` (exit 2)."""
        return validated(self.model, payload)

    async def send(self, agreements: Agreements, agreement_id: str, action: ActionT) -> AgreementStatus:
        """Act on the agreement with ``action`` through ``agreements``; its new status."""
        return await agreements.act(agreement_id, self.update, action)

    async def send_for_receipt(self, agreements: Agreements, agreement_id: str, action: ActionT) -> Receipt:
        """As ``send``, answered with a short receipt (``--reply receipt``)."""
        return await agreements.act_for_receipt(agreement_id, self.update, action)


COMMANDS: list[ActionCommand[Any]] = [
    ActionCommand(AgreementWorkflow.revise_proposal),
    ActionCommand(AgreementWorkflow.submit_proposal),
    ActionCommand(AgreementWorkflow.set_objectives),
    ActionCommand(AgreementWorkflow.submit_for_sign_off),
    ActionCommand(AgreementWorkflow.record_sign_off),
    ActionCommand(AgreementWorkflow.report_milestone),
    ActionCommand(AgreementWorkflow.record_kpi_readings),
    ActionCommand(AgreementWorkflow.record_benefits),
    ActionCommand(AgreementWorkflow.review_risks),
    ActionCommand(AgreementWorkflow.record_lessons),
    ActionCommand(AgreementWorkflow.decide_review),
    ActionCommand(AgreementWorkflow.withdraw),
    ActionCommand(AgreementWorkflow.propose_variation),
    ActionCommand(AgreementWorkflow.sign_variation),
    ActionCommand(AgreementWorkflow.withdraw_variation),
    ActionCommand(AgreementWorkflow.name_signatory),
    ActionCommand(AgreementWorkflow.retire_signatory),
    ActionCommand(AgreementWorkflow.bind_identity),
    ActionCommand(AgreementWorkflow.change_attestor_keys),
    ActionCommand(AgreementWorkflow.delegate_signature),
    ActionCommand(AgreementWorkflow.withdraw_delegation),
]
"""Every update of the agreement workflow, in the contract's order (tests/test_cli.py checks it is all of them)."""

_DELEGABLE = (AgreementWorkflow.record_sign_off, AgreementWorkflow.sign_variation)
"""The updates a delegate may send for a signatory (``--as-delegate``)."""


def is_structured(annotation: Any) -> bool:
    """Models and lists come from a file; plain values from a flag."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return is_structured(typing.get_args(annotation)[0])
    return origin is list or (isinstance(annotation, type) and issubclass(annotation, BaseModel))


def _parse_reading(text: str) -> dict[str, str]:
    kpi_id, sep, value = text.partition("=")
    if not sep:
        raise CliError(f"--reading takes KPI=VALUE, not {text!r}", EXIT_BAD_INPUT)
    return {"kpi_id": kpi_id.strip(), "value": value.strip()}


def add_action_commands(commands: Any) -> None:
    """Add one subcommand per update to the command line's ``commands``."""
    for command in COMMANDS:
        _add_action_command(commands, command)


def _add_action_command(commands: Any, command: ActionCommand[Any]) -> None:
    model, name = command.model, command.name
    parser = commands.add_parser(
        name.replace("_", "-"), help=(model.__doc__ or name).strip().splitlines()[0], description=model.__doc__
    )
    parser.set_defaults(handler=act, command=command, needs_temporal=True)
    parser.add_argument("agreement_id", help="the agreement's id")
    parser.add_argument("--body", required=True, help="code of the body acting (e.g. its GSS code)")
    parser.add_argument("--signatory", required=True, help="the named signatory acting for that body")
    if command.update in _DELEGABLE:
        parser.add_argument("--as-delegate", dest="actor_delegate", metavar="NAME",
                            help="your name, signing for the signatory under their delegation to you")
    readings = command.update is AgreementWorkflow.record_kpi_readings
    for field_name, field in model.model_fields.items():
        if field_name not in _SET_ELSEWHERE:
            _add_field_flag(parser, field_name, field, required=field.is_required() and not readings)
    if readings:
        parser.add_argument("--reading", action="append", metavar="KPI=VALUE", help="one reading; repeatable")
    parser.add_argument("--json", action="store_true", help="print the new status (or the receipt) as JSON")
    add_api_options(parser)


def _add_field_flag(parser: argparse.ArgumentParser, field_name: str, field: Any, *, required: bool) -> None:
    """A flag for one field of an action: a file for a model or list, else a value (with its choices, if an
    enumeration). ``required`` for a structured field may be relaxed (readings may come from --reading)."""
    flag = "--" + field_name.replace("_", "-")
    if is_structured(field.annotation):
        parser.add_argument(flag, dest=field_name, required=required, metavar="FILE",
                            help=f"YAML or JSON file holding the {field_name} ('-' for stdin)")
        return
    annotation = field.annotation
    choices = [m.value for m in annotation] if isinstance(annotation, type) and issubclass(annotation, Enum) else None
    parser.add_argument(flag, dest=field_name, required=field.is_required(), choices=choices,
                        help=field.description or field_name.replace("_", " "))


def payload_of(command: ActionCommand[Any], args: argparse.Namespace) -> dict[str, Any]:
    """The action's fields from the flags: the actor, each value given, each file read, each --reading."""
    payload: dict[str, Any] = {"actor": {"body": args.body, "signatory": args.signatory}}
    if getattr(args, "actor_delegate", None):
        payload["actor"]["delegate"] = args.actor_delegate
    for name, field in command.model.model_fields.items():
        value = getattr(args, name, None)
        if name != "actor" and value is not None:
            payload[name] = load_file(value) if is_structured(field.annotation) else value
    if getattr(args, "reading", None):
        payload.setdefault("readings", []).extend(_parse_reading(r) for r in args.reading)
    return payload


async def act(client: Client | None, settings: Settings, args: argparse.Namespace, console: Console) -> int:
    """Send the action the flags describe; print the agreement's new status."""
    command: ActionCommand[Any] = args.command
    action = command.parse(payload_of(command, args))
    if action.action_id is None:  # named here, so that an unknown outcome can be resolved by sending it again
        action = action.model_copy(update={"action_id": f"cli-{uuid.uuid4()}"})
    if action.reply is Reply.RECEIPT:
        receipt = await command.send_for_receipt(agreements_for(client, settings, args), args.agreement_id, action)
        if args.json:
            print_json(console, receipt.model_dump(mode="json"))
        else:
            done = "repeat (nothing more was done)" if receipt.action.repeat else "accepted"
            console.print(f"{done}: {command.name.replace('_', ' ')} {receipt.action.action_id}, decisions "
                          f"#{receipt.action.first_seq} to #{receipt.action.last_seq}; {receipt.agreement_id} is in "
                          f"{receipt.stage.label}, version {receipt.version or 'none'}", markup=False)
        return 0
    status = await command.send(agreements_for(client, settings, args), args.agreement_id, action)
    if args.json:
        print_json(console, status.model_dump(mode="json"))
    elif status.action is not None and status.action.repeat:
        console.print(f"repeat: {command.name.replace('_', ' ')} {status.action.action_id} was already recorded "
                      f"(decisions #{status.action.first_seq} to #{status.action.last_seq}); nothing more was done",
                      markup=False)
        print_status(console, status)
    else:
        console.print(f"accepted: {command.name.replace('_', ' ')}")
        print_status(console, status)
    return 0
