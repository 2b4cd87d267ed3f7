"""The container image and the compose stack, checked without a Docker engine: the image's file set installs and
every entry point imports from it; the compose file's services start after what they need, each has a health
check, and its versions are those the docs describe. ``docker compose config`` runs where an engine is."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def copied() -> list[str]:
    """The repository paths the Dockerfile copies into the image (each ``COPY src... dest`` line's sources)."""
    paths = []
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            paths.extend(line.split()[1:-1])
    return paths


def test_the_dockerfile_copies_every_package_and_module_pyproject_lists():
    tops = {name.split(".")[0] for name in PYPROJECT["tool"]["setuptools"]["packages"]}
    modules = {f"{name}.py" for name in PYPROJECT["tool"]["setuptools"]["py-modules"]}
    assert tops | modules | {"pyproject.toml", "README.md"} <= set(copied())


def test_pyproject_lists_every_package_in_the_repository():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for top in {name.split(".")[0] for name in listed}:
        found = {str(init.parent.relative_to(ROOT)).replace("/", ".") for init in (ROOT / top).rglob("__init__.py")
                 if "__pycache__" not in init.parts}
        assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"


def test_the_image_file_set_installs_and_every_entry_point_imports(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    for path in copied():
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(source, app / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, app / path)
    site = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                                str(app)], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    entry_points = [value.split(":")[0] for value in PYPROJECT["project"]["scripts"].values()]
    modules = [*entry_points, "starter", "api", "dispatcher", "report", "workflows.agreement", "cli.main"]
    check = (f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
             f"ours = {sorted({n.split('.')[0] for n in PYPROJECT['tool']['setuptools']['packages']})!r}\n"
             "stray = [m.__file__ for n, m in sys.modules.items() if n.split('.')[0] in ours and m.__file__\n"
             f"         and not m.__file__.startswith({str(site)!r})]\n"
             "assert not stray, stray\n")
    run = tmp_path / "elsewhere"
    run.mkdir()
    imported = subprocess.run([sys.executable, "-c", check], cwd=run, capture_output=True, text=True, timeout=300,
                              env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert imported.returncode == 0, imported.stdout + imported.stderr
    pages = site / "web"  # the pages' templates and GOV.UK Frontend are installed with the package
    assert (pages / "templates" / "base.html").is_file()
    assert (pages / "static" / "govuk" / "govuk-frontend.min.css").is_file()


def test_every_service_has_a_health_check_and_starts_after_what_it_needs_is_healthy():
    services = COMPOSE["services"]
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
        for needed, condition in (service.get("depends_on") or {}).items():
            assert needed in services, f"{name} depends on unknown {needed}"
            assert condition == {"condition": "service_healthy"}, f"{name} starts before {needed} is healthy"
    for name in ("worker", "api", "dispatcher"):
        assert "concordat-db" in services[name]["depends_on"]
    for name in ("worker", "api", "temporal-ui"):
        assert "temporal" in services[name]["depends_on"]


def test_the_api_and_dispatcher_apply_migrations_as_the_worker_does():
    for module in ("api/__main__.py", "dispatcher/__main__.py", "worker.py"):
        text = (ROOT / module).read_text()
        assert "migrate(" in text, f"{module} does not apply the migrations"


def test_the_compose_versions_are_those_the_docs_describe():
    ui = COMPOSE["services"]["temporal-ui"]["image"]
    version = ui.split(":")[1]
    docs = "\n".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))
    described = set(re.findall(r"UI (\d+\.\d+\.\d+)", docs)) | set(re.findall(r"temporalio/ui:(\d+\.\d+\.\d+)", docs))
    assert described == {version}, f"compose pins the Web UI at {version}, the docs describe {sorted(described)}"


@pytest.mark.skipif(shutil.which("docker") is None or subprocess.run(
    ["docker", "info"], capture_output=True).returncode != 0, reason="no Docker engine here to run docker compose")
def test_docker_compose_validates_the_file():
    env = {"TEMPORAL_DB_PASSWORD": "x", "CONCORDAT_DB_PASSWORD": "x", "CONCORDAT_SMTP_HOST": "smtp",
           "CONCORDAT_SMTP_SENDER": "a@b", "CONCORDAT_API_ISSUER": "i", "CONCORDAT_API_AUDIENCE": "a",
           "CONCORDAT_API_JWKS_URL": "j", "CONCORDAT_API_SIGNING_KEY_ID": "k", "CONCORDAT_API_SIGNING_KEY": "p",
           "PATH": "/usr/bin:/bin"}
    result = subprocess.run(["docker", "compose", "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


IDP = ROOT / "idp"


def test_the_demo_providers_file_is_the_demo_portfolios_councils_for_the_composed_pages():
    from demo.idp import COMPOSE_PAGES_URL, demo_councils, provider_config

    written = json.loads((IDP / "demo-councils.json").read_text())
    assert written == provider_config(demo_councils(), None, COMPOSE_PAGES_URL), "run: python -m demo.idp > " \
        "idp/demo-councils.json"
    assert "client_secret" not in written["client"]
    assert COMPOSE["services"]["api"]["ports"] == [f"{urlsplit(COMPOSE_PAGES_URL).port}:8088"]
    assert COMPOSE["services"]["idp"]["profiles"] == ["demo"]


@pytest.mark.skipif(shutil.which("npm") is None, reason="Node.js is not installed (apt-get install nodejs npm)")
def test_the_demo_providers_image_file_set_installs_and_serves_each_council(tmp_path):
    dockerfile = (IDP / "Dockerfile").read_text()
    sources = [path for line in dockerfile.splitlines() if line.startswith("COPY ") for path in line.split()[1:-1]]
    assert {"package.json", "package-lock.json", "server.mjs", "demo-councils.json"} <= set(sources)
    for path in sources:
        shutil.copy(IDP / path, tmp_path / path)
    installed = subprocess.run(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    command = re.search(r'^CMD (\[.*\])$', dockerfile, re.MULTILINE)
    assert command is not None
    argv = [arg if arg != "9090" else "0" for arg in json.loads(command.group(1))]
    argv[argv.index("0.0.0.0")] = "127.0.0.1"
    with subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={"PATH": os.environ["PATH"], "IDP_CLIENT_SECRET": "a secret for this test"}) as server:
        try:
            assert server.stdout is not None
            ready = server.stdout.readline()
            while ready and "concordat-idp ready" not in ready:
                ready = server.stdout.readline()
            issuers = json.loads(ready.partition("concordat-idp ready ")[2])["issuers"]
            assert set(issuers) == set(json.loads((IDP / "demo-councils.json").read_text())["councils"])
            for issuer in issuers.values():
                with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=10) as response:
                    assert json.load(response)["issuer"] == issuer
        finally:
            server.terminate()
