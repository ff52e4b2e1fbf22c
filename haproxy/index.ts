export * from './haproxy-cfg.js';
export * from './app-front-cfg.js';
