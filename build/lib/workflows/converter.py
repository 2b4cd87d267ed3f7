"""The data converter every client and worker of Concordat uses.

It is the SDK's pydantic converter, with one change: a payload that fails
validation raises a non-retryable ``ApplicationError`` whose message names each
field and what is wrong. Temporal then rejects a bad update outright and fails a
workflow started with bad input at once, instead of retrying its first task forever.
"""

from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import CompositePayloadConverter, DataConverter
from temporalio.exceptions import ApplicationError

from domain.errors import explain

INVALID_PAYLOAD = "InvalidPayload"


class _ExplainingJSONConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as error:
            raise ApplicationError(explain(error), type=INVALID_PAYLOAD, non_retryable=True) from None


class ConcordatPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        converters = PydanticPayloadConverter().converters.values()
        super().__init__(*(_ExplainingJSONConverter() if c.encoding == "json/plain" else c for c in converters))


data_converter = DataConverter(payload_converter_class=ConcordatPayloadConverter)
