import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { HelperProcess } from '../window-report.js';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const WORKER = process.env.BENCH_DIST
  ? fileURLToPath(new URL('../../dist/relay/tls-forwarder-worker.js', import.meta.url))
  : fileURLToPath(new URL('./tls-forwarder-worker.ts', import.meta.url));
const WORKER_FLAGS = process.env.BENCH_DIST ? [] : ['--import', 'tsx'];

/** Where a `raw-tls` client reaches its target through the forwarder. */
export interface ForwarderAddress {
  readonly port: number;
}

/**
 * Runs `body` with a plain TLS forwarder in its own process (the B of A → B → C for the `raw-tls`
 * peer of the relayed scenarios), given its address and the process to count as a helper.
 */
export async function withTlsForwarder<T>(
  body: (via: ForwarderAddress, helper: HelperProcess) => Promise<T>,
): Promise<T> {
  const extra = (process.env.BENCH_WORKER_FLAGS ?? '').split(' ').filter((flag) => flag !== '');
  const child = spawn(process.execPath, [...WORKER_FLAGS, ...extra, WORKER], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  try {
    const via = await new Promise<ForwarderAddress>((resolve, reject) => {
      lines.once('line', (line) => resolve(JSON.parse(line) as ForwarderAddress));
      child.once('exit', (code) => reject(new Error(`TLS forwarder exited ${code}`)));
    });
    return await body(via, { label: 'forwarder', pid: child.pid as number });
  } finally {
    const closed = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    await closed;
    lines.close();
  }
}
