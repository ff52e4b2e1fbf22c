/** Connection URLs the app gets in its ConfigMap (never with a password). */
import { objectNames, type FeedkitSpec } from '../../shared/index.js';
import { serviceFqdn } from './labels.js';

/** AMQP URL through the HAProxy Service (credentials come from the default-user Secret). */
export function amqpUrls(spec: FeedkitSpec): string {
  return `amqp://${serviceFqdn(spec, objectNames(spec.name).haproxy)}:${spec.haproxy.ports.amqp}`;
}

/** The external URL when set, else the in-cluster Postgres Service; the password is PGPASSWORD. */
export function databaseUrl(spec: FeedkitSpec): string {
  const pg = spec.postgres;
  if (pg.externalUrl !== '') return pg.externalUrl;
  return `postgres://${pg.username}@${serviceFqdn(spec, objectNames(spec.name).postgres)}:${pg.port}/${pg.database}`;
}
