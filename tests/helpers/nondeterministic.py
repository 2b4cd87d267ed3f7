"""A deliberately non-deterministic change to the agreement workflow, which replay must catch.

It waits a moment before every ledger write: harmless-looking, but it adds a timer that
no recorded history has.
"""

from temporalio import workflow

from workflows.agreement import AgreementWorkflow

with workflow.unsafe.imports_passed_through():
    from domain.agreement import Agreement, AgreementInput
    from domain.ledger import Decision
    from domain.status import AgreementStatus


@workflow.defn(name="AgreementWorkflow")
class PausingAgreementWorkflow(AgreementWorkflow):
    @workflow.init
    def __init__(self, start: AgreementInput) -> None:
        super().__init__(start)

    @workflow.run
    async def run(self, start: AgreementInput) -> AgreementStatus:
        return await super().run(start)

    async def _record(self, agreement: Agreement, decisions: list[Decision]) -> None:
        await workflow.sleep(1)
        await super()._record(agreement, decisions)
