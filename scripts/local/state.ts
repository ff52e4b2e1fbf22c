/** The twin's state file: what `local up` records and `status` / `down` / `token` read. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { QueueMode } from '../../shared/index.js';
import { TWIN_DIR, type TwinStateBase } from './paths.js';
import { isPidAlive, isZombie, processStartTicks } from './process.js';

/** File name of the twin state inside its work folder. */
export const STATE_FILE_NAME = 'state.json';

/** What a recorded process is. */
export enum TwinRole {
  EPMD = 'epmd',
  RABBITMQ = 'rabbitmq',
  HAPROXY = 'haproxy',
  POSTGRES = 'postgres',
  APP = 'app',
  /** HAProxy in HTTP mode before the app replicas (the Service's place). */
  APP_FRONT = 'app-front',
}

/** One process of the twin as the state file records it. */
export interface TwinProcessRecord {
  readonly role: TwinRole;
  readonly name: string;
  /** Pid of the process group leader (what `down` signals, as a group). */
  readonly pid: number;
  /** Start time of `pid` in clock ticks since boot; `down` skips a pid whose start time differs (reused pid). */
  readonly startTicks: number | undefined;
  /** Ports this process listens on (127.0.0.1). */
  readonly ports: readonly number[];
  readonly logFile: string;
}

/** Every URL the twin serves. Secret-free: credentials are separate fields of the state. */
export interface TwinUrls {
  /** WebSocket feed through the app front, e.g. `ws://127.0.0.1:PORT/post/feed/posted`. */
  readonly feedWebSocket: string;
  /** HTTP API through the app front. */
  readonly httpApi: string;
  /** Each app replica directly. */
  readonly appReplicas: readonly string[];
  /** AMQP through each HAProxy front (no credentials). */
  readonly amqpFronts: readonly string[];
  /** Stats pages of the HAProxy AMQP fronts. */
  readonly haproxyStats: readonly string[];
  /** Stats page of the HAProxy app front (empty before it starts). */
  readonly appFrontStats: string;
  /** RabbitMQ management UI / HTTP API per node. */
  readonly rabbitmqManagement: readonly string[];
  /** RabbitMQ AMQP per node (no credentials). */
  readonly rabbitmqAmqp: readonly string[];
  /** PostgreSQL without password. */
  readonly postgres: string;
}

/** The state file (`<workDir>/state.json`, mode 0600, git-ignored): secrets, pids, ports, URLs. */
export interface TwinState extends TwinStateBase {
  readonly version: 1;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly workDir: string;
  readonly queueMode: QueueMode;
  readonly rabbitmq: {
    readonly username: string;
    readonly password: string;
    readonly cookie: string;
    readonly epmdPort: number;
    readonly nodes: readonly string[];
  };
  readonly postgres: { readonly username: string; readonly password: string; readonly database: string; readonly port: number };
  readonly processes: readonly TwinProcessRecord[];
  readonly urls: TwinUrls;
}

/** `<workDir>/state.json`. */
export function twinStateFile(workDir: string = TWIN_DIR): string {
  return join(resolve(workDir), STATE_FILE_NAME);
}

/** Reads a twin state file; `undefined` when there is none. */
export function readTwinState(stateFile: string): TwinState | undefined {
  if (!existsSync(stateFile)) return undefined;
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as TwinState;
  if (state.version !== 1 || !Array.isArray(state.processes)) {
    throw new Error(`${stateFile} is not a twin state file of this version. Fix: stop its processes by hand and delete it`);
  }
  return state;
}

/** True when the recorded process still runs (same pid and same start time). */
export function isRecordedAlive(p: TwinProcessRecord): boolean {
  if (!isPidAlive(p.pid) || isZombie(p.pid)) return false;
  const ticks = processStartTicks(p.pid);
  return p.startTicks === undefined || ticks === undefined || ticks === p.startTicks;
}

