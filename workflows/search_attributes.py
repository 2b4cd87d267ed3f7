"""The custom search attributes that let officers filter agreements in the Web UI."""

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.service import RPCError, RPCStatusCode

from domain.status import AgreementStatus

STAGE = SearchAttributeKey.for_keyword("AgreementStage")
RAG = SearchAttributeKey.for_keyword("AgreementRag")
LEAD_BODY = SearchAttributeKey.for_keyword("LeadBody")
PARTNER_BODIES = SearchAttributeKey.for_keyword_list("PartnerBodies")
SERVICE_CATEGORY = SearchAttributeKey.for_keyword("ServiceCategory")
OPEN_ALERTS = SearchAttributeKey.for_int("OpenAlertCount")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("NextDeadline")
TITLE = SearchAttributeKey.for_keyword("AgreementTitle")
"""The agreement's title, for the Web UI list's columns. A title is at most 200 characters (``domain.model.Name``),
so at most 800 bytes of UTF-8: well within the server's 2 KB limit on one attribute's value."""

ALL = (STAGE, RAG, LEAD_BODY, PARTNER_BODIES, SERVICE_CATEGORY, OPEN_ALERTS, NEXT_DEADLINE, TITLE)


def dev_server_flags() -> list[str]:
    """The ``temporal server start-dev`` flags that register every attribute."""
    flags = []
    for key in ALL:
        kind = "".join(part.capitalize() for part in key.indexed_value_type.name.split("_"))
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


def updates(status: AgreementStatus, *, with_title: bool = True) -> list[SearchAttributeUpdate]:
    """The attribute values that describe ``status``; ``with_title`` False leaves out ``AgreementTitle``, as
    runs begun before the patch ``title-searchable`` did."""
    title = [TITLE.value_set(status.title)] if with_title else []
    return [
        STAGE.value_set(status.stage.value),
        RAG.value_set(status.rag.value),
        LEAD_BODY.value_set(status.lead_body),
        PARTNER_BODIES.value_set(status.partner_bodies),
        SERVICE_CATEGORY.value_set(status.service_category.value),
        OPEN_ALERTS.value_set(len(status.open_alerts)),
        NEXT_DEADLINE.value_set(status.deadline) if status.deadline else NEXT_DEADLINE.value_unset(),
        *title,
    ]


async def register(client: Client, namespace: str) -> list[str]:
    """Add the attributes a namespace lacks; returns the names added. Safe to run at every start.

    On Temporal Cloud, attributes are added through the Cloud UI or tcld instead.
    """
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        existing = set(response.custom_attributes)
    except RPCError as error:
        if error.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in ALL
        if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
