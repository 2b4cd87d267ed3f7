"""Worker Deployment Versioning: a worker started with a deployment name and build id serves that version."""

import uuid

import pytest
from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError

from domain.model import Stage
from runtime.settings import ConfigurationError, Settings
from tests.helpers import assert_eventually, factories
from tests.helpers.builders import submit
from worker import build_worker
from workflows.agreement import AgreementWorkflow
from workflows.client import AgreementClient


def test_deployment_name_and_build_id_go_together():
    with pytest.raises(ConfigurationError, match="CONCORDAT_DEPLOYMENT_NAME and CONCORDAT_BUILD_ID"):
        Settings.from_environment({"CONCORDAT_BUILD_ID": "2027.03.1"})
    settings = Settings.from_environment({"CONCORDAT_DEPLOYMENT_NAME": "concordat", "CONCORDAT_BUILD_ID": "2027.03.1"})
    assert (settings.deployment_name, settings.build_id) == ("concordat", "2027.03.1")


@pytest.mark.dev_server
async def test_a_versioned_worker_runs_agreements_that_auto_upgrade(env, pool):
    client = env.client
    deployment, build_id = f"concordat-{uuid.uuid4().hex[:8]}", "build-1"
    settings = Settings.from_environment({
        "CONCORDAT_TASK_QUEUE": f"versioned-{deployment}",
        "CONCORDAT_DEPLOYMENT_NAME": deployment,
        "CONCORDAT_BUILD_ID": build_id,
    })
    async with build_worker(client, pool, settings):
        async def made_current() -> bool:
            try:
                await client.workflow_service.set_worker_deployment_current_version(
                    SetWorkerDeploymentCurrentVersionRequest(
                        namespace=client.namespace, deployment_name=deployment, build_id=build_id))
                return True
            except RPCError:  # the version appears once the worker has polled
                return False
        await assert_eventually(made_current, timeout=30, interval=0.5)

        request = factories.request(f"versioned-{uuid.uuid4().hex[:8]}")
        handle = await AgreementClient(client, settings.task_queue).start_without_waiting(request)
        status = await handle.execute_update(AgreementWorkflow.submit_proposal, submit())
        assert status.stage is Stage.OBJECTIVE_SETTING
        info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
        assert info.behavior == VersioningBehavior.AUTO_UPGRADE.value
        assert info.deployment_version.build_id == build_id
        await handle.terminate("test finished")
