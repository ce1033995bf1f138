"""API credentials and the database password: from the environment or a 0600 secrets file,
never from the config file.

Environment: ``OPENTRADE_<VENUE>_API_KEY``, ``_SECRET``, ``_PASSWORD`` (venue name upper-cased,
non-alphanumerics as ``_``), and ``OPENTRADE_DB_PASSWORD`` for PostgreSQL. File: YAML
``{venue: {api_key: ..., secret: ..., password: ...}, database: {password: ...}}`` readable by
its owner only.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import SecretStr

from core.config import ConfigError
from core.redact import register_secret

FIELDS = ("api_key", "secret", "password")


@dataclass(frozen=True)
class Credentials:
    api_key: SecretStr | None = None
    secret: SecretStr | None = None
    password: SecretStr | None = None
    source: str = field(default="none")

    @property
    def complete(self) -> bool:
        return self.api_key is not None and self.secret is not None

    def for_ccxt(self) -> dict[str, str]:
        mapping = {"apiKey": self.api_key, "secret": self.secret, "password": self.password}
        return {k: v.get_secret_value() for k, v in mapping.items() if v is not None}


def env_prefix(venue: str) -> str:
    return "OPENTRADE_" + re.sub(r"[^A-Za-z0-9]", "_", venue).upper() + "_"


def how_to_set(venue: str) -> str:
    """Where a venue's credentials go, in the words `doctor` and `trade --mode live` use."""
    prefix = env_prefix(venue)
    return (f"set {prefix}API_KEY and {prefix}SECRET (and {prefix}PASSWORD where the exchange uses one), "
            "or add them to the 0600 secrets file")


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            [f"{path}: secrets file is readable by others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}"]
        )


def read_secrets_file(path: Path) -> dict[str, dict[str, str]]:
    if not path.exists():
        return {}
    _check_private(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError([f"{path}{line}: YAML syntax error in the secrets file"]) from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError([f"{path}: expected 'venue: {{api_key: ..., secret: ...}}' entries"])
    return data


DATABASE_PASSWORD_ENV = "OPENTRADE_DB_PASSWORD"
DATABASE_ENTRY = "database"
WEB_PASSWORD_ENV = "OPENTRADE_WEB_PASSWORD"
WEB_ENTRY = "web"


def _password(variable: str, entry: str, secrets_file: Path | None, environ: Mapping[str, str] | None) -> str | None:
    """``variable`` in the environment, else the secrets file's ``entry: {password: ...}``."""
    env = os.environ if environ is None else environ
    password = env.get(variable) or None
    if password is None and secrets_file is not None:
        value = read_secrets_file(secrets_file).get(entry, {}).get("password")
        password = str(value) if value else None
    register_secret(password)
    return password


def database_password(secrets_file: Path | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The PostgreSQL password (``storage.url``): ``OPENTRADE_DB_PASSWORD``, else the secrets
    file's ``database: {password: ...}``; None when neither has one (a server that trusts the
    connection, or a password in ~/.pgpass)."""
    return _password(DATABASE_PASSWORD_ENV, DATABASE_ENTRY, secrets_file, environ)


def web_password(secrets_file: Path | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The password of `opentrade web`'s login: ``OPENTRADE_WEB_PASSWORD``, else the secrets
    file's ``web: {password: ...}``; None when neither has one (API tokens may still log in)."""
    return _password(WEB_PASSWORD_ENV, WEB_ENTRY, secrets_file, environ)


def load_credentials(
    venue: str, secrets_file: Path | None = None, environ: Mapping[str, str] | None = None
) -> Credentials:
    env = os.environ if environ is None else environ
    prefix = env_prefix(venue)
    from_env = {name: env.get(prefix + name.upper()) for name in FIELDS}
    if from_env["api_key"] or from_env["secret"]:
        values, source = from_env, "environment"
    else:
        entry = read_secrets_file(secrets_file).get(venue, {}) if secrets_file else {}
        values, source = {name: entry.get(name) for name in FIELDS}, str(secrets_file)
        if not any(values.values()):
            return Credentials()
    for value in values.values():
        register_secret(value)
    return Credentials(
        **{name: SecretStr(str(v)) for name, v in values.items() if v}, source=source
    )
