/**
 * `npm run setup` (the first step of `npm test`): makes this machine able to run every test.
 *
 * The integration tests and the chaos smoke run real RabbitMQ, HAProxy and PostgreSQL, and the app's
 * image under podman; promtool checks the alerting rules. As root, what is missing is installed from
 * Debian's packages (and podman's settings written); otherwise this stops at once with the exact
 * command to run, instead of letting tests fail one by one half an hour later. Already set up, it
 * only checks paths.
 */
import { ensureContainersConf } from './image/containers-conf.js';
import { CHECK_REQUIREMENTS, ensureSystemPackages, SYSTEM_REQUIREMENTS } from './local/system.js';

try {
  await ensureSystemPackages([...SYSTEM_REQUIREMENTS, ...CHECK_REQUIREMENTS]);
  ensureContainersConf();
} catch (e) {
  process.stderr.write(`setup: ${(e as Error).message}\n`);
  process.exit(1);
}
