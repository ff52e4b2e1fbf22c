export * from './metric-names.js';
export * from './scrape-jobs.js';
export * from './alert-rules.js';
export * from './dashboard.js';
