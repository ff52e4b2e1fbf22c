/**
 * The connections baseline: a bare `ws` server with default options and nothing per socket, in its
 * own process. Port from BENCH_BARE_PORT; GET /mem answers this process's memory (JSON).
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const port = Number(process.env['BENCH_BARE_PORT']);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('bare-ws-server: BENCH_BARE_PORT must be a port number\n');
  process.exit(2);
}
const server = createServer((req, res) => {
  if (req.url === '/mem') {
    const m = process.memoryUsage();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed }));
  } else res.writeHead(404).end();
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('error', () => undefined));
server.listen(port, '0.0.0.0');
