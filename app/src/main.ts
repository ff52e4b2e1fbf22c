/** Entry point: configuration from the environment, then serve until SIGTERM/SIGINT. */
import { ConfigError, configFromEnv } from './config.js';
import { startFeedApp } from './app.js';

let config;
try {
  config = configFromEnv();
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`feed app: bad configuration: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}

const app = await startFeedApp(config).catch((e: Error) => {
  process.stderr.write(`feed app: start failed: ${e.message}\n`);
  process.exit(1);
});

// A stray rejection is a bug to log, not a reason to drop every socket of this replica.
process.on('unhandledRejection', (reason) => app.log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection'));

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    app.log.info({ signal: sig }, 'shutdown requested');
    app.close().then(
      () => process.exit(0),
      (e: Error) => {
        app.log.error({ err: e.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
