// The authorization server: oidc-provider, configured for MCP clients.
//
// - RFC 7591 dynamic client registration at /reg (open: no initial access token)
// - authorization code + PKCE, required for every client (oidc-provider 9 supports S256 only)
// - RFC 8707 resource indicators: the one resource it knows is the MCP URL of the resource server (plus
//   otherResources, for testing audience binding); any other `resource` is invalid_target. Access tokens
//   for it are JWTs (RFC 9068, typ at+jwt) with aud = that URL and scope mcp:tools (when requested),
//   signed RS256 with a key generated at start-up (published at /jwks).
// - a request without `scope` ends in access_denied (nothing to grant): MCP clients take the scope from
//   the RS's challenge (scope="mcp:tools") or its metadata (scopes_supported).
// - devInteractions: the library's built-in login page (any login, any password) and consent page.
// - everything (clients, sessions, grants, codes) is in memory (the library's MemoryAdapter).
import { generateKeyPair, exportJWK } from 'jose';
import Provider, { errors } from 'oidc-provider';

export const MCP_SCOPE = 'mcp:tools';

export async function createAuthorizationServer({ issuer, resource, otherResources = [] }) {
  const known = new Set([resource, ...otherResources]);
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: `peer-${Date.now()}`, alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    // Account lookup for devInteractions: whatever login was typed becomes the subject.
    async findAccount(ctx, sub) {
      return { accountId: sub, async claims() { return { sub }; } };
    },
    scopes: ['openid', 'offline_access', MCP_SCOPE],
    responseTypes: ['code'], // OAuth 2.1: no implicit or hybrid flows
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      registration: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: false },
      resourceIndicators: {
        enabled: true,
        // A client that sends no resource still gets a token for the MCP server (MCP clients MUST send it).
        defaultResource: async (ctx, client, oneOf) => oneOf ?? resource,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          if (!known.has(resourceIndicator)) throw new errors.InvalidTarget();
          return {
            scope: MCP_SCOPE,
            audience: resourceIndicator,
            accessTokenTTL: 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    ttl: { AccessToken: 3600, AuthorizationCode: 300, Interaction: 600, Session: 3600, Grant: 3600 },
  });
  provider.proxy = false;
  return provider;
}
