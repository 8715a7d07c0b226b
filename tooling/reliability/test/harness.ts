import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type NodeId, parseNodeAdvert } from '@netmachine/core';
import type { TransportCountersSnapshot } from '@netmachine/transport';
import type { TlsTransportStats } from '@netmachine/transport-tls';
import { createNode, type NetmachineNode } from 'netmachine';
import type { TargetSpec } from './fixtures/target-node.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/target-node.ts', import.meta.url));

export interface TargetStats {
  rss: number;
  heapUsed: number;
  transport: TransportCountersSnapshot;
  tls: TlsTransportStats;
  tlsEvents: Record<string, number>;
  connected: string[];
}

/** A target node in a child process, with its control channel. */
export interface Target {
  readonly process: ChildProcess;
  readonly id: NodeId;
  readonly advert: string;
  readonly address: string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  control<T = Record<string, unknown>>(request: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  stats(): Promise<TargetStats>;
}

export function newSeed(): string {
  return randomBytes(32).toString('hex');
}

export function startTarget(spec: TargetSpec): Promise<Target> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@netmachine/source', '--import', 'tsx', FIXTURE], {
      env: { ...process.env, NM_TARGET: JSON.stringify(spec) },
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    let nextId = 1;
    const waiting = new Map<number, (answer: Record<string, unknown>) => void>();
    child.on('message', (raw) => {
      const answer = raw as Record<string, unknown>;
      if (answer.ready === true) {
        const advert = answer.advert as string;
        const target: Target = {
          process: child,
          id: answer.id as NodeId,
          advert,
          address: parseNodeAdvert(advert).addrs[0]?.url ?? '',
          exited,
          control: (request, timeoutMs = 30_000) =>
            new Promise((res, rej) => {
              const id = nextId++;
              const timer = setTimeout(() => {
                waiting.delete(id);
                rej(new Error(`control ${String(request.op)} unanswered (child stderr: ${stderr})`));
              }, timeoutMs);
              waiting.set(id, (a) => {
                clearTimeout(timer);
                if (typeof a.error === 'string') rej(new Error(a.error));
                else res(a as never);
              });
              child.send({ ...request, id });
            }),
          stats: () => target.control<TargetStats>({ op: 'stats' }),
        };
        resolve(target);
        return;
      }
      const id = answer.id as number;
      waiting.get(id)?.(answer);
      waiting.delete(id);
    });
    exited.then((code) => reject(new Error(`target exited ${code} before ready: ${stderr}`)));
  });
}

export async function stopTarget(target: Target): Promise<void> {
  if (target.process.exitCode === null && target.process.signalCode === null) {
    target.process.kill('SIGKILL');
  }
  await target.exited;
}

/** An in-process node listening on TLS, for the good side of each test. */
export async function tlsNode(options: { strict?: boolean } = {}): Promise<NetmachineNode> {
  const node = await createNode({
    config: { listen: ['tls://127.0.0.1:0'], transports: ['tls'], metrics: false, ...options },
  });
  await node.start();
  return node;
}
