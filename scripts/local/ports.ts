/** Dynamic loopback ports: other engineers run their own servers on this machine, so nothing here uses a fixed port. */
import { createServer } from 'node:net';

/** Ports handed out by this process; the OS may offer a just-closed port again before its server binds it. */
const handedOut = new Set<number>();

/** A TCP port that is free on `host` right now (127.0.0.1 by default) and not yet handed out by this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen({ host, port: 0, exclusive: true }, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free TCP port found on ${host} after 50 attempts`);
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await freePort(host));
  return out;
}

/** True when something accepts a TCP connection on host:port within `timeoutMs`. */
export async function isPortAnswering(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}
