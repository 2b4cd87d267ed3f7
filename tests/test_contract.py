"""The contract other services rely on: committed schemas, the plain-CLI example, the deployment."""

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
import yaml
from temporalio.workflow import _Definition

from api.settings import ApiSettings, schema_settings
from dispatcher.settings import DispatcherSettings
from domain.model import AgreementRequest
from domain.status import AgreementStatus
from runtime.settings import ConfigurationError, Settings
from tests.helpers.harness import Harness
from web.settings import PagesSettings
from workflows import contract
from workflows.agreement import TASK_QUEUE, AgreementWorkflow, workflow_id

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schemas_match_the_models():
    rendered = contract.render()
    committed = {path.name: path.read_text() for path in contract.CONTRACT_DIR.glob("*.json")}
    assert committed == rendered, "run `python -m workflows.contract` and commit contract/"


def test_the_contract_names_every_update_and_query_of_the_workflow():
    definition = _Definition.must_from_class(AgreementWorkflow)
    assert set(contract.UPDATES) == set(definition.updates) - {None}, "None: the handler refusing unknown names"
    assert set(contract.QUERIES) == set(definition.queries)
    assert contract.summary()["workflow_id"] == workflow_id("{agreement_id}") == "agreement-{agreement_id}"
    assert contract.summary()["task_queue"] == TASK_QUEUE


async def run_example(harness: Harness, script: str, agreement_id: str) -> AgreementStatus:
    """Run an example script against the dev server; returns the agreement's final status."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TEMPORAL_ADDRESS": harness.client.service_client.config.target_host,
        "CONCORDAT_TASK_QUEUE": harness.task_queue,
    }
    process = await asyncio.create_subprocess_exec(
        "bash", str(ROOT / "examples" / script), agreement_id, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, output.decode()
    handle = harness.client.get_workflow_handle_for(AgreementWorkflow.run, workflow_id(agreement_id))
    harness.started.append(handle)
    result = await handle.result()
    assert (await harness.verify(agreement_id)).valid
    return result


@pytest.mark.dev_server
async def test_an_agreement_can_be_driven_with_the_temporal_cli_alone(harness: Harness):
    agreement_id = harness.new_id("cli-example")
    result = await run_example(harness, "temporal-cli.sh", agreement_id)
    assert result.closure is not None and result.closure.outcome == "completed"
    handle = harness.client.get_workflow_handle(workflow_id(agreement_id))
    request = AgreementRequest.model_validate_json((ROOT / "examples" / "agreement.json").read_text().replace(
        "@ID@", agreement_id))
    expected = contract.start_options(request)
    first_run = await harness.client.get_workflow_handle(
        handle.id, run_id=(await handle.describe()).raw_description.workflow_execution_info.first_run_id).describe()
    assert await first_run.static_summary() == expected["static_summary"]
    assert await first_run.static_details() == expected["static_details"]
    assert await first_run.memo() == expected["memo"]


@pytest.mark.dev_server
async def test_a_variation_and_the_signatory_register_can_be_driven_with_the_temporal_cli_alone(
    harness: Harness,
):
    agreement_id = harness.new_id("cli-variation")
    result = await run_example(harness, "temporal-cli-variation.sh", agreement_id)
    assert result.closure is not None and result.closure.outcome == "withdrawn"
    assert result.partner_bodies == ["E10000017", "E06000063", "E06000064", "E06000009"]
    assert [s.name for s in result.signatories["E10000017"]] == ["Sam Clarke"]
    kinds = [entry.kind for entry in await harness.ledger(agreement_id)]
    assert kinds.count("variation_signed") == 4 and kinds.count("variation_took_effect") == 1


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_deployment_has_temporal_its_ui_the_ledger_database_and_a_scalable_worker():
    services = _compose()["services"]
    assert {"temporal", "temporal-db", "temporal-ui", "concordat-db", "worker"} <= set(services)
    assert services["temporal"]["image"].startswith("temporalio/")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui")
    worker = services["worker"]
    assert worker["build"] == "." and worker["deploy"]["replicas"] >= 2
    assert (ROOT / "Dockerfile").read_text().count('CMD ["python", "worker.py"]') == 1


def test_the_worker_environment_in_the_deployment_is_what_the_worker_reads():
    services = _compose()["services"]
    environment = services["worker"]["environment"]
    sdk_variables = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_PROFILE"}
    assert set(environment) <= set(Settings.variables()) | sdk_variables
    assert environment["TEMPORAL_ADDRESS"].split(":")[0] in services
    database_host = environment["DATABASE_URL"].split("@")[1].split(":")[0]
    assert database_host in services and database_host != "temporal-db"
    settings = Settings.from_environment({k: _interpolate(v, {"CONCORDAT_DB_PASSWORD": "x"})
                                          for k, v in environment.items()})
    assert settings.task_queue == TASK_QUEUE
    grace = float(environment["CONCORDAT_SHUTDOWN_GRACE_SECONDS"])
    assert int(services["worker"]["stop_grace_period"].removesuffix("s")) > grace, \
        "docker must wait longer than the worker's own grace period before killing it"
    readme = (ROOT / "docs" / "operators.md").read_text()
    missing = [name for name in Settings.variables() if name not in readme]
    assert not missing, f"the operators' guide does not document {missing}"


def test_the_deployment_ships_no_default_password():
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("TEMPORAL_DB_PASSWORD", "CONCORDAT_DB_PASSWORD", "CONCORDAT_SMTP_PASSWORD"):
        assert not re.search(r"\$\{" + name + r":-[^}]", text), f"{name} has a default value in docker-compose.yml"
    for required in ("TEMPORAL_DB_PASSWORD", "CONCORDAT_DB_PASSWORD"):
        assert "${" + required + ":?" in text, f"{required} must be required"


def _interpolate(value: str, given: dict[str, str]) -> str:
    """Compose's ``${NAME:-default}`` and ``${NAME:?error}`` with ``given`` as the operator's environment."""
    def one(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if name in given:
            return given[name]
        assert operator != ":?", f"{name} is required: {rest}"
        return rest if operator == ":-" else ""
    return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", one, value)


def test_the_dispatcher_in_the_deployment_reads_what_the_dispatcher_reads_and_holds_no_secret():
    services = _compose()["services"]
    dispatcher = services["dispatcher"]
    assert dispatcher["build"] == "." and dispatcher["command"] == ["python", "-m", "dispatcher"]
    environment = dispatcher["environment"]
    assert set(environment) <= set(DispatcherSettings.variables())
    assert environment["DATABASE_URL"] == services["worker"]["environment"]["DATABASE_URL"]
    for secret in ("CONCORDAT_SMTP_PASSWORD", "CONCORDAT_SMTP_USERNAME"):
        assert environment[secret] == "${" + secret + ":-}", f"{secret} comes from the environment, unset by default"
    operator = {"CONCORDAT_DB_PASSWORD": "x", "CONCORDAT_SMTP_HOST": "smtp.council.gov.uk",
                "CONCORDAT_SMTP_SENDER": "Concordat <alerts@council.gov.uk>"}
    settings = DispatcherSettings.from_environment({k: _interpolate(str(v), operator) for k, v in environment.items()})
    assert settings.smtp_password is None and settings.smtp_starttls
    assert int(dispatcher["stop_grace_period"].removesuffix("s")) > settings.shutdown_grace_seconds
    with pytest.raises(AssertionError, match="CONCORDAT_SMTP_HOST is required"):
        _interpolate(environment["CONCORDAT_SMTP_HOST"], {})
    readme = (ROOT / "docs" / "operators.md").read_text()
    missing = [name for name in DispatcherSettings.variables() if name not in readme]
    assert not missing, f"the operators' guide does not document {missing}"


def test_the_api_in_the_deployment_reads_what_the_api_reads_and_holds_no_secret():
    services = _compose()["services"]
    api = services["api"]
    assert api["build"] == "." and api["command"] == ["python", "-m", "api"]
    environment = api["environment"]
    sdk_variables = {"TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE"}
    assert set(environment) <= (set(ApiSettings.variables()) | set(Settings.variables()) | sdk_variables
                                | set(PagesSettings.variables()))
    for required in ("CONCORDAT_API_ISSUER", "CONCORDAT_API_AUDIENCE", "CONCORDAT_API_JWKS_URL",
                     "CONCORDAT_API_SIGNING_KEY", "CONCORDAT_API_SIGNING_KEY_ID"):
        assert environment[required].startswith("${" + required + ":?"), f"{required} has no default"
        with pytest.raises(AssertionError, match=f"{required} is required"):
            _interpolate(environment[required], {})
    key = schema_settings().signing_key
    operator = {"CONCORDAT_DB_PASSWORD": "x", "CONCORDAT_API_ISSUER": "https://login.microsoftonline.com/t/v2.0",
                "CONCORDAT_API_AUDIENCE": "api://concordat", "CONCORDAT_API_SIGNING_KEY_ID": "api-1",
                "CONCORDAT_API_JWKS_URL": "https://login.microsoftonline.com/t/discovery/v2.0/keys",
                "CONCORDAT_API_SIGNING_KEY": key}
    settings = ApiSettings.from_environment({k: _interpolate(str(v), operator) for k, v in environment.items()})
    assert settings.identity_claim == "preferred_username" and settings.port == 8088
    readme = (ROOT / "docs" / "operators.md").read_text()
    missing = [name for name in (*ApiSettings.variables(), *PagesSettings.variables()) if name not in readme]
    assert not missing, f"the operators' guide does not document {missing}"


def test_the_pages_in_the_deployment_are_off_until_configured_and_hold_no_secret():
    environment = _compose()["services"]["api"]["environment"]
    pages = {name: value for name, value in environment.items() if name in PagesSettings.variables()}
    assert set(pages) == set(PagesSettings.variables())
    assert _interpolate(str(pages["CONCORDAT_PAGES_URL"]), {}) == ""  # no pages unless the operator sets it
    for secret in ("CONCORDAT_PAGES_SESSION_SECRET", "CONCORDAT_PAGES_CLIENTS"):
        assert _interpolate(str(pages[secret]), {}) == "", f"{secret} has a default"
    operator = {"CONCORDAT_PAGES_URL": "https://concordat.example.gov.uk"}
    with pytest.raises(ConfigurationError, match="CONCORDAT_PAGES_SESSION_SECRET"):
        PagesSettings.from_environment({k: _interpolate(str(v), operator) for k, v in pages.items()})
    operator |= {"CONCORDAT_PAGES_SESSION_SECRET": "s" * 40, "CONCORDAT_PAGES_CLIENTS": (
        '{"E07000194": {"issuer": "https://login.microsoftonline.com/t/v2.0", "client_id": "c", '
        '"client_secret": "s"}}')}
    settings = PagesSettings.from_environment({k: _interpolate(str(v), operator) for k, v in pages.items()})
    assert settings.cookie_secure and settings.session_seconds == 8 * 3600
    assert settings.redirect_uri("E07000194") == "https://concordat.example.gov.uk/pages/signed-in/E07000194"
