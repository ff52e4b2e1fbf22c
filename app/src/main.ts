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
