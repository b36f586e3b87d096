"""Peer 1: a FastMCP server over Streamable HTTP behind FastMCP's in-memory OAuth provider.

One tool (`loan_payment`, plus nothing else). Usage:

    .tools/peers/fastmcp/bin/python peers/fastmcp/server.py [PORT] [--no-auth]   # default 8801, binds 127.0.0.1

--no-auth serves the same tool with no OAuth at all: a diagnostic mode, to see what the kit's generic
MCP transport checks say about the server itself (they send no token).

Prints `READY http://127.0.0.1:PORT` (and the MCP URL) on stdout once uvicorn is accepting connections.
Everything (clients, codes, tokens) lives in memory and is lost on exit.
"""

from __future__ import annotations

import asyncio
import sys

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth.providers.in_memory import InMemoryOAuthProvider
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions

HOST = "127.0.0.1"
MCP_PATH = "/mcp"


def build(port: int, auth_on: bool = True):
    base_url = f"http://{HOST}:{port}"
    auth = InMemoryOAuthProvider(
        base_url=base_url,
        client_registration_options=ClientRegistrationOptions(enabled=True),
        revocation_options=RevocationOptions(enabled=True),
    )
    mcp = FastMCP("fastmcp-peer-calculator", auth=auth if auth_on else None)

    @mcp.tool
    def loan_payment(principal: float, annual_rate_percent: float, years: int) -> dict:
        """Monthly payment of a fixed-rate loan (annuity formula)."""
        n = years * 12
        r = annual_rate_percent / 100 / 12
        payment = principal / n if r == 0 else principal * r / (1 - (1 + r) ** -n)
        return {"monthly_payment": round(payment, 2), "total_paid": round(payment * n, 2)}

    # FastMCP's default is no Host/Origin guard (settings.http_host_origin_protection = False, "for
    # compatibility"); "auto" turns it on for a loopback-bound server: a foreign Origin gets 403.
    return base_url, mcp.http_app(path=MCP_PATH, host_origin_protection="auto")


async def main(port: int, auth_on: bool) -> None:
    base_url, app = build(port, auth_on)
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # re-raise the startup error
            raise SystemExit(1)
        await asyncio.sleep(0.05)
    print(f"READY {base_url} mcp={base_url}{MCP_PATH}", flush=True)
    await task


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--no-auth"]
    asyncio.run(main(int(args[0]) if args else 8801, "--no-auth" not in sys.argv[1:]))
