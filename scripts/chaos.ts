/**
 * `npm run chaos -- [--target local|kubernetes] [--scenario NAME|all] [--queue-mode mirrored|quorum|both]
 *                   [--duration S] [--seed N] [--smoke]`
 * Kills parts of the stack under load and checks every acknowledged post against what every
 * follower received; writes reports/chaos-<timestamp>.{json,html}; exits 1 on any loss.
 */
import { main } from './chaos/cli.js';
import { openLocalTwin } from './chaos/twin-target.js';

process.exitCode = await main(process.argv.slice(2), openLocalTwin);
