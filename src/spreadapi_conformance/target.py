"""What the suite certifies: the in-process reference, or a deployment described by a TOML file.

A target file (``serve --write-target`` writes one; an operator writes one for staging)::

    base_url = "https://staging.example.com"

    [services.quote]            # the id the service was published under
    fixture = "quote"           # which fixtures/workbooks/*.xlsx it was published from
    public = false
    token = "env:QUOTE_TOKEN"   # a secret, literal or read from the environment

Secrets may be literal or ``env:NAME``; a missing variable is an error that names it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w


class TargetError(ValueError):
    """A target file that cannot be used; the message is one line for the operator."""


@dataclass(frozen=True)
class PublishedService:
    id: str  # as published on the target
    fixture: str  # fixture service id (fixtures/services/<fixture>.yaml)
    public: bool
    token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TargetSpec:
    base_url: str | None  # None: the in-process reference
    services: dict[str, PublishedService]  # keyed by fixture id
    source: str = "in-process"

    @property
    def in_process(self) -> bool:
        return self.base_url is None

    def secrets(self) -> list[str]:
        """Every secret value, for masking in reports and logs."""
        return [s.token for s in self.services.values() if s.token]


def _secret(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TargetError(f"{where} must be a string")
    if value.startswith("env:"):
        name = value[4:]
        if name not in os.environ:
            raise TargetError(f"{where} refers to the environment variable {name}, which is not set")
        return os.environ[name]
    return value


def load_target(path: str | os.PathLike[str]) -> TargetSpec:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"target file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"target file {path} is not valid TOML: {exc}") from None
    base_url = raw.get("base_url")
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        raise TargetError(f"target file {path}: base_url must be an http:// or https:// URL")
    services: dict[str, PublishedService] = {}
    for published_id, entry in (raw.get("services") or {}).items():
        if not isinstance(entry, dict):
            raise TargetError(f"target file {path}: [services.{published_id}] must be a table")
        fixture = entry.get("fixture", published_id)
        services[fixture] = PublishedService(
            id=published_id,
            fixture=fixture,
            public=bool(entry.get("public", True)),
            token=_secret(entry.get("token"), f"services.{published_id}.token"),
        )
    return TargetSpec(base_url=base_url.rstrip("/"), services=services, source=str(path))


def write_target(path: str | os.PathLike[str], base_url: str, services: list[PublishedService]) -> None:
    document = {
        "base_url": base_url,
        "services": {
            s.id: {"fixture": s.fixture, "public": s.public, **({"token": s.token} if s.token else {})}
            for s in services
        },
    }
    text = "# Written by `spreadapi-conformance serve`; it holds secrets, keep it private.\n" + tomli_w.dumps(document)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created owner-only before the secrets are written into it.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
