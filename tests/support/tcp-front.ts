/**
 * A TCP front on loopback that forwards to a RabbitMQ node's AMQP port (standing in for HAProxy in
 * front of it): it can drop the connections it carries, go silent on them as a hung node does, or
 * withhold the broker's frames on one channel as a channel stuck inside the broker does.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** Bytes of an AMQP frame header (type, channel, payload size) and of its end marker. */
const FRAME_HEADER_BYTES = 7;
const FRAME_END_BYTES = 1;
/** The byte every AMQP frame ends with. */
const FRAME_END = 0xce;

/** One client connection and its upstream. */
interface Carried {
  readonly client: Socket;
  readonly upstream: Socket;
}

export class TcpFront {
  /** Connections accepted since it opened. */
  accepted = 0;
  private readonly carried = new Set<Carried>();
  private readonly withheldChannels = new Set<number>();
  private silent = false;

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
   * Stops passing the broker's bytes to the clients while keeping every connection open and still
   * passing the clients' bytes up: what a client sees of a node that hung after reading its request.
   * Holds for connections made later too.
   */
  silenceReplies(): void {
    this.silent = true;
  }

  /** From now on the broker's frames on AMQP channel `channel` are dropped (on every connection, later ones too), every other channel's pass. */
  withholdChannel(channel: number): void {
    this.withheldChannels.add(channel);
  }

  close(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private carry(client: Socket, upstream: Socket): void {
    this.accepted++;
    const pair = { client, upstream };
    this.carried.add(pair);
    client.pipe(upstream);
    let pending: Buffer = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      try {
        pending = this.forwardFrames(Buffer.concat([pending, chunk]), client);
      } catch {
        drop(); // out of step with the frames: forwarding further would only mislead the test
      }
    });
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.carried.delete(pair);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  }

  /** Writes each whole frame of `bytes` that may pass to `client`; returns the incomplete tail, throws on a broken frame. */
  private forwardFrames(bytes: Buffer, client: Socket): Buffer {
    let at = 0;
    while (bytes.length - at >= FRAME_HEADER_BYTES) {
      const size = FRAME_HEADER_BYTES + bytes.readUInt32BE(at + 3) + FRAME_END_BYTES;
      if (bytes.length - at < size) break;
      if (bytes[at + size - 1] !== FRAME_END) throw new Error(`no frame end at byte ${at + size - 1}`);
      if (!this.silent && !this.withheldChannels.has(bytes.readUInt16BE(at + 1))) client.write(bytes.subarray(at, at + size));
      at += size;
    }
    return bytes.subarray(at);
  }
}
