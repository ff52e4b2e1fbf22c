export * from './constants.js';
export * from './spec.js';
export * from './overrides.js';
export * from './render-inputs.js';
export * from './app-settings.js';
export * from './spec-docs.js';
export * from './retry.js';
