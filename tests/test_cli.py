"""The command line, against the real dev server and PostgreSQL: every command and every error path."""

import asyncio
import io
import json
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from temporalio.service import RPCError

import starter
from activities.ledger import LedgerActivities
from cli.output import print_table
from domain.ledger import ChainHead, Decision, chain
from domain.model import Stage
from domain.status import AgreementStatus
from tests.helpers import assert_eventually as eventually
from tests.helpers import factories
from workflows.agreement import workflow_id

ROOT = Path(__file__).resolve().parent.parent
LEAD = ["--body", factories.LICHFIELD, "--signatory", "Priya Shah"]
TAMWORTH = ["--body", factories.TAMWORTH, "--signatory", "Owen Hughes"]


def request_file(tmp_path: Path, suffix: str = ".yaml", **proposal) -> tuple[str, Path]:
    agreement_id = f"cli-{uuid.uuid4().hex[:8]}"
    data = factories.request_data(agreement_id, **proposal)
    path = tmp_path / f"{agreement_id}{suffix}"
    path.write_text(json.dumps(data) if suffix == ".json" else yaml.safe_dump(data))
    return agreement_id, path


@pytest.mark.dev_server
async def test_start_from_yaml_and_json_then_a_duplicate_is_refused(cli, tmp_path, harness):
    for suffix in (".yaml", ".json"):
        agreement_id, path = request_file(tmp_path, suffix)
        assert (await cli("start", str(path)))[0] == 0
        harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
    code, _, err = await cli("start", str(path))
    assert code == 1 and "already exists" in err


@pytest.mark.parametrize(("content", "expected"), [
    (None, "cannot read"),
    ("proposal: [unclosed", "not valid YAML or JSON"),
    ("one partner", "proposal.partners"),
    ("negative cost", "one_off_cost"),
])
@pytest.mark.dev_server
async def test_a_bad_request_file_starts_nothing(cli, tmp_path, harness, content, expected):
    agreement_id, path = request_file(tmp_path)
    if content is None:
        path = tmp_path / "missing.yaml"
    elif content == "one partner":
        path.write_text(yaml.safe_dump(factories.request_data(
            agreement_id, partners=factories.proposal_data()["partners"][:1])))
    elif content == "negative cost":
        path.write_text(yaml.safe_dump(factories.request_data(agreement_id, one_off_cost="-1")))
    else:
        path.write_text(content)
    code, _, err = await cli("start", str(path))
    assert code == 2 and expected in err
    with pytest.raises(RPCError):
        await harness.client.get_workflow_handle(workflow_id(agreement_id)).describe()


@pytest.mark.dev_server
async def test_a_lifecycle_through_the_command_line(cli, tmp_path, harness):
    agreement_id, path = request_file(tmp_path)
    path.write_text(yaml.safe_dump(factories.request_data(
        agreement_id, settings={"review_period": "PT2S", "term": "PT4S"})))
    assert (await cli("start", str(path)))[0] == 0
    harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
    await eventually(lambda: cli("status", agreement_id))

    revised = tmp_path / "proposal.yaml"
    revised.write_text(yaml.safe_dump(factories.proposal_data(one_off_cost="600000.00")))
    assert (await cli("revise-proposal", agreement_id, *LEAD, "--proposal", str(revised)))[0] == 0
    assert (await cli("submit-proposal", agreement_id, *LEAD))[0] == 0
    code, out, _ = await cli("status", agreement_id, "--json")
    status = AgreementStatus.model_validate_json(out)
    plan = tmp_path / "plan.yaml"
    plan.write_text(yaml.safe_dump(factories.plan_data(status.stage_started_at.date())))
    assert (await cli("set-objectives", agreement_id, *LEAD, "--plan", str(plan)))[0] == 0
    code, out, _ = await cli("submit-for-sign-off", agreement_id, *LEAD, "--json")
    assert code == 0
    version = json.loads(out)["version"]
    for actor in (LEAD, TAMWORTH, ["--body", factories.STAFFORDSHIRE, "--signatory", "Grace Adeyemi"]):
        code, out, _ = await cli("record-sign-off", agreement_id, *actor, "--decision", "approve", "--version", version,
                                 "--json")
        assert code == 0
    assert json.loads(out)["stage"] == "implementation"
    await cli("report-milestone", agreement_id, *LEAD, "--milestone-id", "fleet", "--status", "complete",
              "--percent-complete", "100")
    code, out, _ = await cli("report-milestone", agreement_id, *TAMWORTH, "--milestone-id", "rounds",
                             "--status", "complete", "--percent-complete", "100")
    assert code == 0 and "review" in out

    async def readings_taken():
        code, _, _ = await cli("record-kpi-readings", agreement_id, *LEAD, "--reading", "cost-per-household=61")
        return code == 0
    await eventually(readings_taken, interval=0.5)
    readings = tmp_path / "readings.yaml"
    readings.write_text(yaml.safe_dump([{"kpi_id": "missed-bins", "value": "99.3"}]))
    assert (await cli("record-kpi-readings", agreement_id, *LEAD, "--readings", str(readings)))[0] == 0
    code, out, _ = await cli("decide-review", agreement_id, *LEAD, "--outcome", "continue",
                             "--reason", "benefits on track")
    assert code == 0 and "review 2 of 2" in out

    async def one_row_each(*flags: str) -> bool:
        """After a review cycle the agreement has two runs; the list shows it once."""
        code, out, _ = await cli("list", "--lead", factories.LICHFIELD, "--json", *flags)
        return [row["agreement_id"] for row in json.loads(out)].count(agreement_id) == 1
    await eventually(lambda: one_row_each(), timeout=30)
    await eventually(lambda: one_row_each("--all"), timeout=30)
    code, out, _ = await cli("list", "--stage", "review", "--lead", factories.LICHFIELD)
    header, *rows = out.splitlines()
    assert header.split("\t") == ["Agreement", "Title", "Stage", "RAG", "Lead", "Next deadline", "Alerts", "Workflow"]
    assert [agreement_id, "Joint waste and recycling service", "review"] in [row.split("\t")[:3] for row in rows]

    await eventually(readings_taken, interval=0.5)
    assert (await cli("record-kpi-readings", agreement_id, *LEAD, "--readings", str(readings)))[0] == 0
    code, out, _ = await cli("decide-review", agreement_id, *LEAD, "--outcome", "continue",
                             "--reason", "benefits on track")
    assert code == 0 and "Closed: completed" in out

    code, out, _ = await cli("ledger", agreement_id)
    assert code == 0 and "hash chain verified" in out and "matches the agreement's workflow" in out
    assert "\tPriya Shah (Lichfield District Council)\tsubmitted the proposal\t" in out
    code, out, _ = await cli("ledger", agreement_id, "--json")
    assert json.loads(out)["verification"]["valid"] is True
    code, out, _ = await cli("story", agreement_id)
    assert code == 0 and out.splitlines()[0].split("\t") == ["When", "Stage", "Who", "What", "Why"]
    assert "\tOwen Hughes (Tamworth Borough Council)\tapproved it at sign-off\t-" in out
    assert "\treview\tPriya Shah (Lichfield District Council)\tdecided the review: continue\tbenefits on track" in out
    code, out, _ = await cli("story", agreement_id, "--json")
    assert json.loads(out)["story"][0]["what"] == "opened the agreement \u201cJoint waste and recycling service\u201d"
    code, out, _ = await cli("verify", agreement_id, "--json")
    assert code == 0 and json.loads(out)[0]["valid"] is True

    async def closed_hint() -> bool:
        code, out, err = await cli("list", "--stage", "closed", "--lead", factories.LICHFIELD)
        return code == 0 and "add --all to include closed agreements" in err
    await eventually(closed_hint, timeout=30)
    code, out, _ = await cli("list", "--stage", "closed", "--all", "--json")
    assert agreement_id in {row["agreement_id"] for row in json.loads(out)}


@pytest.mark.dev_server
async def test_a_variation_and_the_signatory_register_through_the_command_line(cli, tmp_path, harness):
    agreement_id = f"cli-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "north-west.yaml"
    path.write_text(yaml.safe_dump(factories.north_west_request(agreement_id).model_dump(mode="json")))
    assert (await cli("start", str(path)))[0] == 0
    harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
    await eventually(lambda: cli("status", agreement_id))
    lancashire = ["--body", factories.LANCASHIRE, "--signatory", "Helen Ashworth"]
    today = (await harness.env.get_current_time()).date()
    variation = tmp_path / "variation.yaml"
    variation.write_text(yaml.safe_dump(factories.cumbria_reorganisation(today)))
    code, out, _ = await cli("propose-variation", agreement_id, *lancashire, "--variation", str(variation))
    assert code == 0 and "Variation 1" in out and "Awaiting: Lancashire County Council" in out
    version = out.split("Variation version to sign (--version): ")[1].split()[0]
    code, _, err = await cli("sign-variation", agreement_id, "--body", factories.CUMBRIA, "--signatory",
                             "Gareth Dobson", "--decision", "approve")
    assert code == 1 and "does not sign variation 1" in err
    signers = ((factories.LANCASHIRE, "Helen Ashworth"), (factories.CUMBERLAND, "Iain Wilson"),
               (factories.WESTMORLAND_AND_FURNESS, "Ruth Atkinson"), (factories.BLACKPOOL, "Nadia Rahman"))
    for body, signatory in signers:
        code, out, _ = await cli("sign-variation", agreement_id, "--body", body, "--signatory", signatory,
                                 "--decision", "approve", "--version", version, "--json")
        assert code == 0
    assert json.loads(out)["partner_bodies"] == [factories.LANCASHIRE, factories.CUMBERLAND,
                                                 factories.WESTMORLAND_AND_FURNESS, factories.BLACKPOOL]
    code, out, _ = await cli("name-signatory", agreement_id, *lancashire, "--of-body", factories.LANCASHIRE,
                             "--name", "Sam Clarke", "--role", "Chief Executive")
    assert code == 0
    code, out, _ = await cli("retire-signatory", agreement_id, *lancashire, "--of-body", factories.LANCASHIRE,
                             "--name", "Helen Ashworth", "--retired-on", today.isoformat())
    assert code == 0 and f"Helen Ashworth ({today})" in out
    code, _, err = await cli("retire-signatory", agreement_id, *lancashire, "--of-body", factories.LANCASHIRE,
                             "--name", "Sam Clarke", "--retired-on", "not a date")
    assert code == 2 and "retired_on" in err


@pytest.mark.dev_server
async def test_refusals_exit_1_with_the_engines_reason(cli, tmp_path, harness):
    agreement_id, path = request_file(tmp_path)
    await cli("start", str(path))
    harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))
    await eventually(lambda: cli("status", agreement_id))
    code, _, err = await cli("record-sign-off", agreement_id, *TAMWORTH, "--decision", "approve")
    assert code == 1 and "refused: cannot sign off while agreement" in err
    code, _, err = await cli("submit-proposal", agreement_id, "--body", factories.TAMWORTH, "--signatory", "Priya Shah")
    assert code == 1 and "Priya Shah is not a named signatory of Tamworth Borough Council" in err
    code, _, err = await cli("status", "no-such-agreement")
    assert code == 1 and "no such agreement" in err


async def test_bad_action_input_exits_2_before_anything_is_sent(cli, tmp_path):
    code, _, err = await cli("record-kpi-readings", "x", *LEAD, "--reading", "cost")
    assert code == 2 and "--reading takes KPI=VALUE" in err
    bad_plan = tmp_path / "plan.yaml"
    bad_plan.write_text(yaml.safe_dump({"objectives": [], "milestones": [], "contributions": []}))
    code, _, err = await cli("set-objectives", "x", *LEAD, "--plan", str(bad_plan))
    assert code == 2 and "plan.objectives" in err
    code, _, err = await cli("record-sign-off", "x", *TAMWORTH, "--decision", "reject")
    assert code == 2 and "a rejection must give a reason" in err
    for argv in (["record-sign-off", "x", *TAMWORTH, "--decision", "maybe"], ["submit-proposal", "x"], ["nonsense"]):
        with pytest.raises(SystemExit) as exit_:
            await cli(*argv)
        assert exit_.value.code == 2


@pytest.mark.dev_server
async def test_list_filters_through_visibility(cli, tmp_path, harness):
    agreement_id, path = request_file(tmp_path)
    await cli("start", str(path))
    harness.started.append(harness.client.get_workflow_handle(workflow_id(agreement_id)))

    async def listed():
        code, out, _ = await cli("list", "--stage", "proposal", "--lead", factories.LICHFIELD, "--json")
        return code == 0 and agreement_id in {row["agreement_id"] for row in json.loads(out)}
    await eventually(listed, timeout=30)
    code, out, _ = await cli("list", "--stage", "review", "--json")
    assert agreement_id not in {row["agreement_id"] for row in json.loads(out)}


async def test_verify_names_the_first_tampered_decision(cli, pool, monkeypatch):
    agreement_id = f"cli-tamper-{uuid.uuid4().hex[:8]}"
    decisions = [Decision(kind="signed_off", stage=Stage.SIGN_OFF, actor_body=factories.TAMWORTH,
                          actor_signatory="Owen Hughes", payload={"n": n}, decided_at="2027-01-04T09:00:00Z")
                 for n in range(4)]
    await LedgerActivities(pool).record_decisions(chain(agreement_id, ChainHead(), decisions))
    assert (await cli("verify", agreement_id))[0] == 0
    assert (await cli("verify"))[0] == 2
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute("UPDATE decisions SET actor_signatory = 'Someone Else' WHERE agreement_id = $1 AND seq = 3",
                           agreement_id)
    code, out, _ = await cli("verify", agreement_id)
    assert code == 1 and "BROKEN" in out and "#3" in out
    code, out, _ = await cli("ledger", agreement_id)
    assert code == 1 and "#3" in out
    monkeypatch.delenv("DATABASE_URL")
    code, _, err = await cli("ledger", agreement_id)
    assert code == 2 and "DATABASE_URL is not set" in err


async def test_unreachable_temporal_and_bad_configuration(cli, monkeypatch):
    monkeypatch.setenv("CONCORDAT_METRICS_PORT", "abc")
    code, _, err = await cli("status", "x")
    assert code == 2 and "CONCORDAT_METRICS_PORT" in err
    monkeypatch.delenv("CONCORDAT_METRICS_PORT")
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    code, _, err = await cli("status", "x")
    assert code == 3 and "cannot connect to Temporal" in err


async def test_help_for_every_command_and_real_process_exit_codes(cli):
    commands = ["start", "status", "list", "ledger", "story", "verify", *(n.replace("_", "-") for n in starter.UPDATES)]
    for command in [None, *commands]:
        with pytest.raises(SystemExit) as exit_:
            starter.build_parser().parse_args([command, "--help"] if command else ["--help"])
        assert exit_.value.code == 0
    for argv, expected in ((["--help"], 0), (["verify"], 2), (["status", "x"], 3)):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "starter.py", *argv, cwd=ROOT, env={"PATH": "/usr/bin", "TEMPORAL_ADDRESS": "127.0.0.1:1"},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        assert await process.wait() == expected, argv


def test_each_update_of_the_workflow_has_one_command_sent_by_its_method():
    from cli.actions import COMMANDS

    assert [command.name for command in COMMANDS] == list(starter.UPDATES)
    assert [command.model for command in COMMANDS] == list(starter.UPDATES.values())


def test_a_delegate_signs_for_the_signatory_from_the_command_line_with_as_delegate():
    from cli.actions import payload_of

    args = starter.build_parser().parse_args(["record-sign-off", "waste", "--body", "E07000199", "--signatory",
                                              "Owen Hughes", "--as-delegate", "Sam Okafor", "--decision", "approve"])
    assert payload_of(args.command, args)["actor"] == {"body": "E07000199", "signatory": "Owen Hughes",
                                                       "delegate": "Sam Okafor"}
    args = starter.build_parser().parse_args(["record-sign-off", "waste", "--body", "E07000199", "--signatory",
                                              "Owen Hughes", "--decision", "approve"])
    assert payload_of(args.command, args)["actor"] == {"body": "E07000199", "signatory": "Owen Hughes"}
    with pytest.raises(SystemExit):
        starter.build_parser().parse_args(["report-milestone", "waste", "--body", "E07000199", "--signatory",
                                           "Owen Hughes", "--as-delegate", "Sam Okafor"])


LESSON = ["Lichfield and Tamworth joint waste service (demo-lichfield-tamworth-waste)",
          "Merging rounds before procuring the fleet", "procurement, workforce"]


def test_a_table_in_a_pipe_is_tab_separated_values_each_whole():
    out = io.StringIO()
    print_table(Console(file=out, width=40), "Lessons", ["Agreement", "What worked", "Tags"], [LESSON])
    assert out.getvalue().splitlines() == ["Agreement\tWhat worked\tTags", "\t".join(LESSON)]


@pytest.mark.parametrize("width", [200, 80, 60, 40])
def test_a_table_in_a_terminal_wraps_between_words_and_cuts_none(width):
    console = Console(width=width, force_terminal=True, color_system=None, record=True)
    print_table(console, "Lessons", ["Agreement", "What worked", "Tags"], [LESSON])
    text = console.export_text()
    assert "…" not in text
    shown = set(text.replace("│", " ").replace("┃", " ").replace(": ", " ").split())
    assert {word for cell in LESSON for word in cell.split()} <= shown, "a word was split or cut"
    assert {"Agreement", "What", "worked", "Tags"} <= shown
    assert max(len(line) for line in text.splitlines()) <= width


def test_the_demos_live_view_fits_80_by_24_with_every_agreement_and_the_latest_steps():
    from demo import live
    from demo.portfolio import PORTFOLIO

    rows = [[persona.label, "●●○○○ objective setting", "amber", "Royal Borough of Greenwich and 3 more", "09:41:07",
             "2", "17"] for persona in PORTFOLIO]
    events = [f"09:40:{n:02d} demo-south-london-nrpf: record sign off by Daniel Reid -> sign off" for n in range(9)]
    console = Console(width=80, height=24, force_terminal=True, color_system=None, record=True)
    console.print(live.view(console, rows, [*events, "09:41:00 resuming demo-hampshire-h3"]))
    lines = console.export_text().splitlines()
    assert len(lines) <= 23 and max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert all(persona.label.split()[0] in text for persona in PORTFOLIO)
    assert "Latest steps and alerts" in text and "resuming demo-hampshire-h3" in text
    header = next(line for line in lines if line.startswith("Agreement"))
    assert header.split() == ["Agreement", "Stage", "RAG", "Waiting", "on", "Deadline", "Alerts", "Decided"]
