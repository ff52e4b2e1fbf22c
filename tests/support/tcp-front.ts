/**
 * A TCP front on loopback that forwards to one port (standing in for HAProxy in front of a node):
 * it can drop the connections it carries, or go silent on them as a hung node does.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One client connection and its upstream. */
interface Carried {
  readonly client: Socket;
  readonly upstream: Socket;
}

export class TcpFront {
  /** Connections accepted since it opened. */
  accepted = 0;
  private readonly carried = new Set<Carried>();

  private constructor(
    private readonly server: Server,
    /** The loopback port it listens on. */
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards every connection to `targetPort`. */
  static async open(targetPort: number): Promise<TcpFront> {
    let front: TcpFront | undefined;
    const server = createServer((client) => front!.carry(client, connect(targetPort, '127.0.0.1')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    front = new TcpFront(server, (server.address() as { port: number }).port);
    return front;
  }

  /** Cuts every connection it carries but keeps listening (a front that restarted at once). */
  dropAll(): void {
    for (const { client, upstream } of this.carried) {
      client.destroy();
      upstream.destroy();
    }
  }

  /**
   * Stops passing the upstream's bytes to the clients while keeping every connection open and still
   * passing the clients' bytes up: what a client sees of a node that hung after reading its request.
   */
  silenceReplies(): void {
    for (const { client, upstream } of this.carried) {
      upstream.unpipe(client);
      upstream.pause();
    }
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private carry(client: Socket, upstream: Socket): void {
    this.accepted++;
    const pair = { client, upstream };
    this.carried.add(pair);
    client.pipe(upstream).pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.carried.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }
}
