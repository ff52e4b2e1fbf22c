export * from './peer-discovery.js';
export * from './pod-hostnames.js';
export * from './rabbitmq-conf.js';
export * from './enabled-plugins.js';
export * from './definitions.js';
export * from './default-user.js';
export * from './memory.js';
export * from './drain.js';
