"""The deployment files (Dockerfile, compose.yaml, deploy/config.yaml) name only what exists:
commands the CLI parses, the gateway's port, environment variables the code reads, the home
as a volume, a health check on /api/v1/health; and they hold no secret. No container runtime
runs on the test machines, so reading the files is the test."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from cli.commands.account import handle_health
from cli.commands.gateway import handle as handle_gateway
from cli.commands.web import handle as handle_web
from cli.main import build_parser
from core.config import load_config
from core.secrets import DATABASE_PASSWORD_ENV, WEB_PASSWORD_ENV

ROOT = Path(__file__).resolve().parents[2]
HOME = "/var/lib/opentrade"
CONFIG_IN_CONTAINER = "/etc/opentrade/config.yaml"


def dockerfile(text: str) -> list[tuple[str, str]]:
    """(instruction, arguments) of each instruction, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in joined.splitlines() if line.strip()]


def exec_form(arguments: str) -> list[str]:
    """A JSON-array instruction (exec form: no shell between Docker and the command)."""
    assert arguments.startswith("["), f"{arguments} should be in exec form"
    return list(yaml.safe_load(arguments))


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return dockerfile((ROOT / "Dockerfile").read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def last(instructions: list[tuple[str, str]], name: str) -> str:
    return [arguments for instruction, arguments in instructions if instruction == name][-1]


def env_values(instructions: list[tuple[str, str]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction, arguments in instructions:
        if instruction == "ENV":
            values.update(part.split("=", 1) for part in shlex.split(arguments))
    return values


def cli_args(command: list[str]) -> Any:
    assert command[0] == "opentrade", "the installed entry point (pyproject: opentrade = cli.main:main)"
    return build_parser().parse_args(command[1:])


def test_the_image_runs_the_gateway_on_every_interface_as_a_user(instructions: list[tuple[str, str]]) -> None:
    assert re.fullmatch(r"python:3\.11-slim", last(instructions, "FROM"))
    args = cli_args(exec_form(last(instructions, "ENTRYPOINT")) + exec_form(last(instructions, "CMD")))
    assert args.handler is handle_gateway
    assert (args.host, args.insecure) == ("0.0.0.0", True), "reachable from outside the container's loopback"
    user = last(instructions, "USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    order = [instruction for instruction, _ in instructions]
    assert order.index("USER") < order.index("ENTRYPOINT")
    assert env_values(instructions)["OPENTRADE_HOME"] == HOME
    assert exec_form(last(instructions, "VOLUME")) == [HOME]
    assert any(f"chown {user}:{user} {HOME}" in arguments for instruction, arguments in instructions if instruction == "RUN")
    assert last(instructions, "EXPOSE") == "18790"
    health = last(instructions, "HEALTHCHECK")
    assert cli_args(exec_form(health.split(" CMD ", 1)[1])).handler is handle_health


def test_compose_runs_the_gateway_on_postgresql(compose: dict[str, Any], instructions: list[tuple[str, str]]) -> None:
    gateway, postgres = compose["services"]["gateway"], compose["services"]["postgres"]
    args = cli_args(exec_form(last(instructions, "ENTRYPOINT")) + gateway["command"])
    assert args.handler is handle_gateway and (args.host, args.insecure) == ("0.0.0.0", True)
    assert str(args.config) == CONFIG_IN_CONTAINER
    mounts = {target: (source, mode) for source, target, *mode in (v.split(":") for v in gateway["volumes"])}
    assert mounts[CONFIG_IN_CONTAINER] == ("./deploy/config.yaml", ["ro"])
    assert mounts[HOME] == ("home", []) and "home" in compose["volumes"]
    assert gateway["environment"]["OPENTRADE_HOME"] == HOME

    config = load_config(ROOT / "deploy" / "config.yaml")
    url = urlsplit(config.storage.url or "")
    assert url.hostname == "postgres", "the compose service's name"
    assert (url.username, url.path.lstrip("/")) == (postgres["environment"]["POSTGRES_USER"], postgres["environment"]["POSTGRES_DB"])
    assert url.password is None
    assert gateway["ports"] == [f"127.0.0.1:{config.gateway.port}:{config.gateway.port}"], "the host's loopback only"
    assert postgres["ports"] == [f"127.0.0.1:{url.port}:5432"]
    assert gateway["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert postgres["volumes"] == ["pgdata:/var/lib/postgresql/data"] and "pgdata" in compose["volumes"]

    health = gateway["healthcheck"]["test"]
    assert health[0] == "CMD" and cli_args(health[1:]).handler is handle_health
    assert postgres["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_compose_serves_the_app_in_a_browser_attached_to_the_gateway(
    compose: dict[str, Any], instructions: list[tuple[str, str]]
) -> None:
    web, gateway = compose["services"]["web"], compose["services"]["gateway"]
    args = cli_args(exec_form(last(instructions, "ENTRYPOINT")) + web["command"])
    assert args.handler is handle_web and (args.host, args.port, args.insecure) == ("0.0.0.0", 3000, True)
    config = load_config(ROOT / "deploy" / "config.yaml")
    assert args.gateway == f"http://gateway:{config.gateway.port}", "the gateway's compose service, on its port"
    assert web["ports"] == ["127.0.0.1:3000:3000"], "the host's loopback only"
    assert web["depends_on"]["gateway"]["condition"] == "service_healthy"
    assert web["volumes"] == gateway["volumes"], "the gateway's home (its token) and configuration"
    assert re.fullmatch(r"\$\{" + WEB_PASSWORD_ENV + r":\?[^}]+\}", web["environment"][WEB_PASSWORD_ENV]), "a login, required"


def test_the_password_comes_from_the_environment(compose: dict[str, Any]) -> None:
    gateway, postgres = compose["services"]["gateway"], compose["services"]["postgres"]
    required = re.compile(r"\$\{" + DATABASE_PASSWORD_ENV + r":\?[^}]+\}")
    assert required.fullmatch(gateway["environment"][DATABASE_PASSWORD_ENV]), "the variable the storage reads, required"
    assert required.fullmatch(postgres["environment"]["POSTGRES_PASSWORD"]), "the same password for the server"


SECRET_SHAPES = [
    re.compile(r"(?i)(password|secret|token|api_key)\s*[:=]\s*['\"]?(?!\$\{)[A-Za-z0-9_\-+/]{4,}"),
    re.compile(r"otk_[A-Za-z0-9_-]{20,}"),  # an API token
    re.compile(r"postgres(?:ql)?://[^@\s/]*:[^@\s/]*@"),  # a password inside a URL
]


@pytest.mark.parametrize("name", ["Dockerfile", "compose.yaml", "deploy/config.yaml", ".dockerignore"])
def test_no_secret_in_the_deployment_files(name: str) -> None:
    text = (ROOT / name).read_text()
    for shape in SECRET_SHAPES:
        assert not [line for line in text.splitlines() if shape.search(line)], f"{name}: {shape.pattern}"


def test_the_secret_shapes_catch_a_secret() -> None:
    for line in ["POSTGRES_PASSWORD: hunter22", "ENV OPENTRADE_DB_PASSWORD=s3cretpw",
                 "url: postgresql://opentrade:pw@postgres/opentrade", "OPENTRADE_TOKEN: otk_" + "a" * 43]:
        assert any(shape.search(line) for shape in SECRET_SHAPES), line
    assert not any(shape.search("POSTGRES_PASSWORD: ${OPENTRADE_DB_PASSWORD:?set it}") for shape in SECRET_SHAPES)


def test_secrets_and_state_stay_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {"secrets.yaml", ".env", "*.sqlite", ".venv", ".git"} <= ignored
