export * from './errors.js';
export * from './listener.js';
export * from './peer-discovery.js';
export * from './topology.js';
export * from './rabbitmq-conf.js';
export * from './enabled-plugins.js';
export * from './definitions.js';
export * from './default-user.js';
