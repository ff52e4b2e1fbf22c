export * from './haproxy-cfg.js';
