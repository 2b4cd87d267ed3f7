"""The data converter every client and worker of Concordat uses.

It is the SDK's pydantic converter, with one change: a payload that fails
validation raises a non-retryable ``ApplicationError`` of type ``InvalidPayload``
whose message names each field and what is wrong, and whose first detail lists
the problems (``{field, code, message}``). Temporal then rejects a bad update
outright and fails a workflow started with bad input at once, instead of retrying
its first task forever. In a worker, each such refusal is logged with who tried what.
"""

import json
from typing import Any

import structlog
from pydantic import TypeAdapter, ValidationError
from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.exceptions import ApplicationError

from domain.errors import INVALID_PAYLOAD, explain, problems
from domain.model import AS_RECORDED

log = structlog.get_logger("concordat.refusals")


def log_refusal(
    agreement_id: str | None, action: str, actor_body: str | None, actor_signatory: str | None, reason: str
) -> None:
    """Log one refusal (a warning with a ``refusal`` object): the agreement (its workflow id, and its
    agreement id when the workflow has read it), the action, who, and why.

    In workflow code the SDK's workflow logger is used, which stays quiet during replay; elsewhere, structlog.
    """
    workflow_id = None
    if workflow.in_workflow():
        workflow_id = workflow.info().workflow_id
    elif activity.in_activity():
        workflow_id = activity.info().workflow_id
    refusal = {
        "workflow_id": workflow_id,
        "agreement_id": agreement_id,
        "action": action,
        "actor_body": actor_body,
        "actor_signatory": actor_signatory,
        "reason": reason,
    }
    if workflow.in_workflow():
        workflow.logger.warning("action refused", extra={"refusal": refusal})
    else:
        log.warning("action refused", refusal=refusal)


def actor_in(payload: Payload) -> tuple[str | None, str | None]:
    """The ``actor`` body and signatory a raw JSON payload names, where they can be read (at most 200
    characters each); None for what cannot."""
    try:
        actor = json.loads(payload.data).get("actor")
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(actor, dict):
        return None, None
    body, signatory = actor.get("body"), actor.get("signatory")
    return (body[:200] if isinstance(body, str) else None, signatory[:200] if isinstance(signatory, str) else None)


def _log_invalid_payload(payload: Payload, reason: str) -> None:
    """Log a malformed payload refused in a worker: an update's or the start input's, or an activity's."""
    body, signatory = actor_in(payload)
    if workflow.in_workflow():
        update = workflow.current_update_info()
        log_refusal(None, update.name if update else "start", body, signatory, reason)
    elif activity.in_activity():
        log_refusal(None, activity.info().activity_type, body, signatory, reason)


class _ExplainingJSONConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as error:
            if workflow.in_workflow() and workflow.unsafe.is_replaying_history_events():
                # Accepted when it was recorded, under the rules of the time: read it as it was then.
                return TypeAdapter(type_hint or Any).validate_json(payload.data, context={AS_RECORDED: True})
            message = explain(error)
            _log_invalid_payload(payload, message)
            raise ApplicationError(message, problems(error), type=INVALID_PAYLOAD, non_retryable=True) from None


class ConcordatPayloadConverter(CompositePayloadConverter):
    """The SDK's pydantic payload converter with JSON read by ``_ExplainingJSONConverter``.

    The worker builds one for every workflow activation, so it is built from the SDK's default converters
    directly (about 6 µs), not by building a ``PydanticPayloadConverter`` and replacing its JSON one (about 70).
    """

    def __init__(self) -> None:
        super().__init__(*(_ExplainingJSONConverter() if isinstance(c, JSONPlainPayloadConverter) else c
                           for c in DefaultPayloadConverter.default_encoding_payload_converters))


data_converter = DataConverter(payload_converter_class=ConcordatPayloadConverter)
