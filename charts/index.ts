export * from './stack.js';
export { Component, selectorLabels, stackLabels, serviceFqdn } from './common/labels.js';
export { amqpUrls, databaseUrl } from './common/urls.js';
export { CONFIG_CHECKSUM_ANNOTATION } from './common/checksum.js';
export { RabbitmqCluster, type RabbitmqClusterProps, RabbitmqPaths, RabbitmqConfigKeys } from './rabbitmq/rabbitmq-cluster.js';
export { HaproxyFront, type HaproxyFrontProps } from './haproxy/haproxy-front.js';
export { FeedApp, type FeedAppProps } from './app/feed-app.js';
export { Postgres, type PostgresProps, postgresHeadlessName } from './postgres/postgres.js';
export { NetworkPolicies, type NetworkPoliciesProps } from './network/network-policies.js';
