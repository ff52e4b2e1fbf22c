/** The commit a benchmark or chaos report was measured at, so every figure names its code. */
import { runSync } from '../shell.js';

function git(args: readonly string[], cwd: string): string {
  try {
    return runSync('git', args, { cwd, timeoutMs: 10_000 }).trim();
  } catch {
    return '';
  }
}

/** HEAD and whether the code that runs (scripts/, app/, shared/) has uncommitted changes. */
export function gitState(repoRoot: string): { commit: string; dirty: boolean } {
  return {
    commit: git(['rev-parse', 'HEAD'], repoRoot) || 'unknown',
    dirty: git(['status', '--porcelain', '--', 'scripts', 'app', 'shared'], repoRoot) !== '',
  };
}

/** `abcdef012345` or `abcdef012345 (dirty)`: how reports print the commit they were measured at. */
export function commitLabel(commit: string, dirty: boolean | undefined): string {
  return `${commit.slice(0, 12)}${dirty ? ' (dirty)' : ''}`;
}
