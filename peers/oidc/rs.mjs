// The resource server: one MCP endpoint (Streamable HTTP, @modelcontextprotocol/sdk 1.x, stateful sessions)
// whose every request needs an access token of the authorization server:
//
// - the token is a JWT checked with jose against the issuer's JWKS (found through its RFC 8414 metadata):
//   signature (RS256), typ at+jwt (RFC 9068), iss = the issuer, aud = this MCP URL, exp (and nbf/iat)
// - the SDK's requireBearerAuth answers a missing/invalid token with 401 and
//   WWW-Authenticate: Bearer error="invalid_token", ..., scope="mcp:tools", resource_metadata="<PRM URL>",
//   and a valid token without the scope mcp:tools with 403 insufficient_scope
// - RFC 9728 metadata at /.well-known/oauth-protected-resource/mcp names the issuer
// - one tool: loan_payment
import { randomUUID } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { z } from 'zod';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

export const MCP_PATH = '/mcp';
const PRM_PATH = `/.well-known/oauth-protected-resource${MCP_PATH}`;

function calculator() {
  const server = new McpServer({ name: 'oidc-peer-calculator', version: '1.0.0' });
  server.registerTool(
    'loan_payment',
    {
      description: 'Monthly payment of a fixed-rate loan (annuity formula).',
      inputSchema: { principal: z.number(), annual_rate_percent: z.number(), years: z.number().int().positive() },
      outputSchema: { monthly_payment: z.number(), total_paid: z.number() },
    },
    async ({ principal, annual_rate_percent, years }) => {
      const n = years * 12;
      const r = annual_rate_percent / 100 / 12;
      const payment = r === 0 ? principal / n : (principal * r) / (1 - (1 + r) ** -n);
      const result = { monthly_payment: Math.round(payment * 100) / 100, total_paid: Math.round(payment * n * 100) / 100 };
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    },
  );
  return server;
}

// A token verifier for the SDK's bearer middleware: JWT access tokens of `issuer` for `resource`.
function jwtVerifier({ issuer, resource }) {
  let jwks;
  async function keys() {
    if (!jwks) {
      const response = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
      if (!response.ok) throw new Error(`the issuer's metadata: HTTP ${response.status}`);
      const metadata = await response.json();
      if (metadata.issuer !== issuer) throw new Error(`the metadata names issuer ${metadata.issuer}`);
      jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
    }
    return jwks;
  }
  return {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jwtVerify(token, await keys(), {
          issuer,
          audience: resource,
          typ: 'at+jwt',
          algorithms: ['RS256'],
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (error) {
        throw new InvalidTokenError(`The access token is not valid here (${error.code ?? error.message})`);
      }
      const granted = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
      return {
        token,
        clientId: payload.client_id,
        scopes: granted,
        expiresAt: payload.exp,
        resource: new URL(resource),
        extra: { sub: payload.sub },
      };
    },
  };
}

export function createResourceServer({ base, issuer, requiredScopes = [], noAuth = false }) {
  const resource = `${base}${MCP_PATH}`;
  const origin = new URL(base);
  const app = createMcpExpressApp({ host: origin.hostname, allowedHosts: [origin.host, origin.hostname] });

  const metadata = {
    resource,
    authorization_servers: [issuer],
    scopes_supported: ['mcp:tools'],
    bearer_methods_supported: ['header'],
    resource_name: 'oidc-provider peer: loan calculator',
  };
  app.get(PRM_PATH, (req, res) => res.set('Access-Control-Allow-Origin', '*').json(metadata));

  const auth = noAuth ? (req, res, next) => next() : requireBearerAuth({
    verifier: jwtVerifier({ issuer, resource }),
    requiredScopes,
    resourceMetadataUrl: `${base}${PRM_PATH}`,
    expectedResource: new URL(resource),
  });

  const sessions = new Map(); // Mcp-Session-Id -> transport
  app.all(MCP_PATH, auth, async (req, res) => {
    const id = req.get('mcp-session-id');
    let transport = id ? sessions.get(id) : undefined;
    if (id && !transport) {
      res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      return;
    }
    if (!transport) {
      if (req.method !== 'POST' || !isInitializeRequest(req.body)) {
        const status = req.method === 'POST' ? 400 : 405;
        if (status === 405) res.set('Allow', 'POST');
        res.status(status).json({
          jsonrpc: '2.0',
          error: { code: -32000, message: 'Bad Request: no valid session id (initialize first)' },
          id: null,
        });
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableDnsRebindingProtection: true,
        allowedHosts: [origin.host],
        allowedOrigins: [origin.origin],
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
      await calculator().connect(transport);
    }
    await transport.handleRequest(req, res, req.body);
  });
  return app;
}
