/**
 * The baseline of `connections` and `connect-rate`: a bare `ws` server with default options and
 * nothing per socket, in its own process. Port from BENCH_BARE_PORT; GET /mem answers this
 * process's memory (JSON). With BENCH_JWT_SECRET set, every upgrade must carry a token the app
 * would accept (the app's own verifier: jose HS256, `exp` and `sub` required), else it gets 401.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { AuthError, createTokenVerifier, tokenFromRequest, type TokenVerifier } from '../../app/src/auth/jwt.js';

const port = Number(process.env['BENCH_BARE_PORT']);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('bare-ws-server: BENCH_BARE_PORT must be a port number\n');
  process.exit(2);
}
const secret = process.env['BENCH_JWT_SECRET'];
const verify: TokenVerifier | undefined = secret !== undefined && secret !== '' ? createTokenVerifier({ jwtSecret: secret }) : undefined;

const server = createServer((req, res) => {
  if (req.url === '/mem') {
    const m = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed }));
  } else res.writeHead(404).end();
});
const wss = new WebSocketServer({ noServer: true });
wss.on('connection', (ws) => ws.on('error', () => undefined));
server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => undefined);
  const complete = () => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  if (!verify) return complete();
  const token = tokenFromRequest(req.headers.authorization, new URL(req.url ?? '/', 'http://localhost'));
  if (token === undefined) return void socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  verify(token).then(complete, (e: unknown) => {
    const reason = e instanceof AuthError ? e.reason : 'verification failed';
    socket.end(`HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`);
  });
});
server.listen(port, '0.0.0.0');
