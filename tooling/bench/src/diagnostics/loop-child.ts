/**
 * What the two-process diagnostic loops (`connect-loop`, `request-loop`) share: forking a role of
 * the same script and reading its messages in order, the CPU clock they report, the system config
 * they run, and the percentile of their sorted latencies.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { SystemConfig } from '../systems/types.js';

/** `netmachine-relayed`: netmachine over TLS, each side reaching the other only through relay `relayAdvert`. */
export const RELAYED = 'netmachine-relayed';

export const configOf = (system: string, relayAdvert?: string): SystemConfig =>
  system === 'netmachine'
    ? { transport: 'tls' }
    : system === RELAYED && relayAdvert !== undefined
      ? { transport: 'tls', relayAdvert }
      : {};

/** The system whose adapter runs `system` (the relayed variant is netmachine's). */
export const adapterOf = (system: string): string => (system === RELAYED ? 'netmachine' : system);

/** User + system CPU time of this process, in µs. */
export const cpuMicros = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

export const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;

export interface LoopChild<M> {
  readonly child: ChildProcess;
  /** The child's next message; rejects if the child exits first. */
  next(): Promise<M>;
}

/** Forks `script` with `args`; its messages are queued until read with `next()`. */
export function spawnLoopChild<M>(script: string, args: string[], execArgv: string[]): LoopChild<M> {
  const child = fork(script, args, { execArgv });
  const inbox: M[] = [];
  const waiting: Array<(message: M) => void> = [];
  child.on('message', (message: M) => {
    const waiter = waiting.shift();
    if (waiter !== undefined) waiter(message);
    else inbox.push(message);
  });
  const next = (): Promise<M> => {
    const queued = inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      waiting.push(resolve);
      child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code})`)));
    });
  };
  return { child, next };
}
