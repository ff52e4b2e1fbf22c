/**
 * The one argument parser of every CLI under scripts/ (synth, token, local, chaos, bench): node's
 * built-in `util.parseArgs` with `strict: true`.
 *
 * Why not zx's `minimist` (the other parser zx offers): minimist accepts anything. A misspelt flag
 * (`--replcias 3`) is silently ignored, a value-taking flag at the end (`--seed`) becomes `true`,
 * and values are guessed into numbers. `parseArgs` in strict mode rejects unknown flags, a missing
 * value and a value given to a boolean, and types its result from the option table. What it does
 * not check (numbers, ranges, enums, lists) the readers below check, naming the flag and what it
 * accepts. `--help`/`-h` is known to every CLI.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: the message names the flag and what it accepts. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** `--help` or `-h` was given: print the usage and stop with exit code 0. */
export class HelpRequested extends UsageError {
  override name = 'HelpRequested';
  constructor() {
    super('help requested');
  }
}

type OptionTable = NonNullable<ParseArgsConfig['options']>;

/** Option-table entries: a flag that takes a value, a flag that is on or off. */
export const STRING = { type: 'string' } as const;
export const BOOLEAN = { type: 'boolean' } as const;

const HELP = { help: { type: 'boolean', short: 'h' } } as const;

/** What {@link parseFlags} returns for the option table `O`: typed values and the positionals. */
export type ParsedFlags<O extends OptionTable> = ReturnType<typeof parseArgs<{ options: O & typeof HELP; strict: true; allowPositionals: true }>>;

/**
 * Parses `argv` (without node and the script) against `options`, strictly. Positionals are refused
 * unless `positionals` is true. Throws {@link HelpRequested} for `--help`/`-h`, else {@link UsageError}.
 */
export function parseFlags<const O extends OptionTable>(argv: readonly string[], options: O, { positionals = false } = {}): ParsedFlags<O> {
  let parsed: ParsedFlags<O>;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, ...HELP }, strict: true, allowPositionals: positionals }) as ParsedFlags<O>;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if ((parsed.values as { help?: boolean }).help) throw new HelpRequested();
  return parsed;
}

/** Where a CLI writes: whole lines. */
export interface CliIo {
  readonly log: (line: string) => void;
  readonly err: (line: string) => void;
}

const STDIO: CliIo = {
  log: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Runs `parse` (which parses and checks the flags). On `--help` prints `usage` to stdout and gives
 * exit code 0; on a {@link UsageError} prints the error and the usage to stderr and gives exit code 2.
 * For CLIs whose `main` returns its exit code; scripts that just exit use {@link parseCli}.
 */
export function parseOrExitCode<T>(usage: string, parse: () => T, io: CliIo = STDIO): { ok: true; value: T } | { ok: false; exitCode: 0 | 2 } {
  try {
    return { ok: true, value: parse() };
  } catch (e) {
    if (e instanceof HelpRequested) {
      io.log(usage);
      return { ok: false, exitCode: 0 };
    }
    if (e instanceof UsageError) {
      io.err(`${e.message}\n${usage}`);
      return { ok: false, exitCode: 2 };
    }
    throw e;
  }
}

/** {@link parseOrExitCode} for a script's top level: returns the parsed value or exits (0 on --help, 2 on a bad flag). */
export function parseCli<T>(usage: string, parse: () => T): T {
  const r = parseOrExitCode(usage, parse);
  if (!r.ok) process.exit(r.exitCode);
  return r.value;
}

/** Accepted range of a number flag. */
export interface NumberRange {
  readonly min: number;
  readonly max?: number;
  /** Only whole numbers. @default false */
  readonly integer?: boolean;
}

/** A TCP port. */
export const TCP_PORT = { min: 1, max: 65_535, integer: true } as const satisfies NumberRange;

function describeRange({ min, max, integer }: NumberRange): string {
  const kind = integer ? 'a whole number' : 'a number';
  return max === undefined ? `${kind} ≥ ${min}` : `${kind} from ${min} to ${max}`;
}

/** `--flag`'s value as a number in `range`; `fallback` (or undefined) when the flag is absent. */
export function numberFlag(flag: string, raw: string, range: NumberRange): number;
export function numberFlag(flag: string, raw: string | undefined, range: NumberRange): number | undefined;
export function numberFlag(flag: string, raw: string | undefined, range: NumberRange, fallback: number): number;
export function numberFlag(flag: string, raw: string | undefined, range: NumberRange, fallback?: number): number | undefined {
  if (raw === undefined) return fallback;
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isFinite(v) || v < range.min || (range.max !== undefined && v > range.max) || (range.integer && !Number.isInteger(v))) {
    throw new UsageError(`--${flag}: "${raw}" is not ${describeRange(range)}`);
  }
  return v;
}

/** `--flag`'s value, which must be one of `allowed`; undefined when the flag is absent. */
export function enumFlag<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T | undefined {
  if (raw === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`--${flag}: "${raw}" is not one of ${allowed.join(', ')}`);
  return raw as T;
}

/** `--flag all` or a comma-separated list of `allowed` names (`what` names one, e.g. "scenario"). */
export function listFlag<T extends string>(flag: string, raw: string, allowed: readonly T[], what: string): T[] {
  if (raw === 'all') return [...allowed];
  const names = raw.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!(allowed as readonly string[]).includes(n)) throw new UsageError(`--${flag}: "${n}" is not a ${what}; use all or one of ${allowed.join(', ')}`);
  }
  return names as T[];
}
