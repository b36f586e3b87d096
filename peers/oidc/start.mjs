// Start the authorization server and the MCP resource server on two loopback ports (two origins).
//   node start.mjs [AS_PORT=8811] [RS_PORT=8812] [--no-auth]
// --no-auth: a diagnostic mode, the RS serves MCP without checking any token (its transport alone).
// Prints one line once both accept connections:
//   READY as=http://127.0.0.1:AS_PORT rs=http://127.0.0.1:RS_PORT mcp=http://127.0.0.1:RS_PORT/mcp
// Stop it with SIGTERM/SIGINT (both servers are in this one process). The RS reaches the AS over HTTP only
// (metadata, JWKS), so the two could as well run in two processes.
import http from 'node:http';
import { createAuthorizationServer } from './as.mjs';
import { createResourceServer, MCP_PATH } from './rs.mjs';

const HOST = '127.0.0.1';
const args = process.argv.slice(2).filter((a) => a !== '--no-auth');
const noAuth = process.argv.includes('--no-auth'); // diagnostic: the RS without its bearer check
const asPort = Number(args[0] ?? 8811);
const rsPort = Number(args[1] ?? 8812);
const issuer = `http://${HOST}:${asPort}`;
const rsBase = `http://${HOST}:${rsPort}`;

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => resolve(server));
  });
}

// PEER_OTHER_RESOURCES (space-separated URLs): more resources the AS issues tokens for, e.g. a sibling RS,
// to check that this RS refuses a token whose aud is another resource.
const otherResources = (process.env.PEER_OTHER_RESOURCES ?? '').split(' ').filter(Boolean);
const provider = await createAuthorizationServer({ issuer, resource: `${rsBase}${MCP_PATH}`, otherResources });
const asServer = await listen(http.createServer(provider.callback()), asPort);
const rsServer = await listen(http.createServer(createResourceServer({ base: rsBase, issuer, noAuth, requiredScopes: ['mcp:tools'] })), rsPort);
console.log(`READY as=${issuer} rs=${rsBase} mcp=${rsBase}${MCP_PATH}`);

function stop() {
  asServer.close();
  rsServer.close();
  asServer.closeAllConnections();
  rsServer.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
