import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { connect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { Contender, Measurement } from '../scenario.js';

/**
 * storage-fetch: a 64 MiB object moved between two processes and verified, in MB/s. netmachine
 * fetches it through the Storage engine (every 1 MiB chunk hashed and checked on arrival, stored in
 * lmdb; storage-client.ts); the raw-tls peer streams the same number of bytes over node:tls and
 * checks one SHA-256.
 */
const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/**
 * Like the other workers (see process/child.ts): under `pnpm bench` (BENCH_DIST=1) both sides run
 * tsc's output with plain node and load netmachine as users install it; otherwise the TypeScript
 * sources through tsx.
 */
const EXTENSION = process.env.BENCH_DIST ? 'js' : 'ts';
const SCRIPT_DIR = process.env.BENCH_DIST ? '../../dist/bulk/' : './';
const FETCH_SCRIPT = fileURLToPath(new URL(`${SCRIPT_DIR}storage-client.${EXTENSION}`, import.meta.url));
const RAW_SERVER = fileURLToPath(new URL(`${SCRIPT_DIR}raw-tls-server.${EXTENSION}`, import.meta.url));
const NODE_FLAGS = [
  ...(process.env.BENCH_DIST ? [] : ['--conditions=@netmachine/source', '--import', 'tsx']),
  // Extra node flags for the measured processes, e.g. BENCH_WORKER_FLAGS=--cpu-prof to profile them.
  ...(process.env.BENCH_WORKER_FLAGS ?? '').split(' ').filter((flag) => flag !== ''),
];

function objectMib(quick: boolean): number {
  return quick ? 16 : 64;
}

function runScript(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${err.slice(-500)}`)),
    );
  });
}

export const storageFetchSubject: Contender = {
  system: 'netmachine',
  transport: 'tls',
  async measure(settings): Promise<Measurement> {
    const out = await runScript([FETCH_SCRIPT, String(objectMib(settings.quick)), '8']);
    const line = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { scenario?: string; mbPerSecond?: number; bytes?: number })
      .find((l) => l.scenario === 'storage-fetch');
    if (line?.mbPerSecond === undefined) throw new Error(`no result from ${FETCH_SCRIPT}`);
    return { mbPerSec: line.mbPerSecond };
  },
};

export const storageFetchRawTls: Contender = {
  system: 'raw-tls',
  measure(settings): Promise<Measurement> {
    const mib = objectMib(settings.quick);
    return new Promise((resolve, reject) => {
      const server = spawn(process.execPath, [...NODE_FLAGS, RAW_SERVER], {
        cwd: REPO_ROOT,
        env: { ...process.env, OBJECT_MIB: String(mib) },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      server.stdout.setEncoding('utf8').once('data', (line: string) => {
        const { port } = JSON.parse(line) as { port: number };
        const hash = createHash('sha256');
        const expected = mib * 2 ** 20;
        let received = 0;
        let tail: Buffer = Buffer.alloc(0);
        const started = performance.now();
        const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
        socket.on('data', (chunk: Buffer) => {
          // The last 32 bytes are the server's digest of the object.
          const all = tail.length > 0 ? Buffer.concat([tail, chunk]) : chunk;
          const payload = Math.min(all.length, expected - received);
          if (payload > 0) hash.update(all.subarray(0, payload));
          received += Math.max(0, payload);
          tail = all.subarray(Math.max(0, payload));
        });
        socket.on('end', () => {
          const seconds = (performance.now() - started) / 1000;
          if (received !== expected || !hash.digest().equals(tail)) {
            resolve({ loss: { sent: expected, received, bad: 1 } });
            return;
          }
          resolve({ mbPerSec: expected / 1e6 / seconds });
        });
        socket.on('error', reject);
      });
      server.once('exit', (code) => {
        if (code !== 0 && code !== null) reject(new Error(`raw-tls server exited ${code}`));
      });
    });
  },
};
