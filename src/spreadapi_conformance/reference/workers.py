"""``serve --workers N``: the app each uvicorn worker process builds for itself.

uvicorn starts its workers as fresh processes that import the app by name, so the configuration
travels in an environment variable (inherited by the workers only; it may hold the admin token and
pinned service tokens, like the command line it came from). The parent seeds the credentials into
Redis once and writes the target file; the workers serve what the store holds and seed nothing.
"""

from __future__ import annotations

import dataclasses
import json
import os

from starlette.applications import Starlette

from .app import Reference
from .config import ReferenceConfig

CONFIG_ENV = "SPREADAPI_WORKER_CONFIG"


def encode_config(config: ReferenceConfig) -> str:
    fields = dataclasses.asdict(config)
    fields["redirect_allowlist"] = list(config.redirect_allowlist)
    fields["faults"] = sorted(config.faults)
    return json.dumps(fields)


def decode_config(text: str) -> ReferenceConfig:
    fields = json.loads(text)
    fields["redirect_allowlist"] = tuple(fields["redirect_allowlist"])
    fields["faults"] = frozenset(fields["faults"])
    return ReferenceConfig(**fields)


def worker_app() -> Starlette:
    """uvicorn's app factory in each worker process."""
    return Reference(decode_config(os.environ[CONFIG_ENV]), seed=False).app
