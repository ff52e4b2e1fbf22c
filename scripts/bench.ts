/** `npm run bench -- [--scenario NAME|all] [--quick]`: see scripts/bench/cli.ts. */
import { benchMain } from './bench/cli.js';

// Explicit exit: a stray socket or timer of a scenario must not keep the process (and its children) alive.
process.exit(await benchMain(process.argv.slice(2)));
