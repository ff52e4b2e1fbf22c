/** Inputs of the pure renderers (rabbitmq-cluster/, haproxy/) that are not spec fields: listen addresses, and the error naming a bad one. */
/** A renderer option is wrong; the message names the field and how to fix it. */
export class RenderInputError extends Error {
  constructor(
    /** Dotted name of the offending option, e.g. `amqp.port` or `password`. */
    readonly field: string,
    problem: string,
    /** What to do instead. */
    readonly fix: string,
  ) {
    super(`option "${field}": ${problem}. Fix: ${fix}`);
    this.name = 'RenderInputError';
  }
}


/** A network address a server listens on; shared by the RabbitMQ and HAProxy renderers. */
export interface Listener {
  /** IP address to bind, or {@link ALL_INTERFACES}. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** `host` value meaning every interface (IPv4 and IPv6). */
export const ALL_INTERFACES = '*';

/** Throws {@link RenderInputError} naming `field` when the listener cannot be rendered into a config file. */
export function checkListener(field: string, listener: Listener): void {
  if (!Number.isInteger(listener.port) || listener.port < 1 || listener.port > 65_535) {
    throw new RenderInputError(`${field}.port`, `${listener.port} is not a TCP port`, 'use a whole number from 1 to 65535');
  }
  if (listener.host !== ALL_INTERFACES && !/^[0-9A-Za-z.:-]+$/.test(listener.host)) {
    throw new RenderInputError(`${field}.host`, `"${listener.host}" is not an IP address or host name`, `use e.g. "127.0.0.1", or "${ALL_INTERFACES}" for every interface`);
  }
}
