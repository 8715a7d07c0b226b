import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeId } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { openIdentityStore } from '../src/index.js';
import { newKey, nodeAdvert } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
const writerScript = join(here, 'fixtures', 'crash-writer.ts');
/** Acknowledged writes to wait for before the kill: enough that the kill lands mid-stream. */
const ACKS_BEFORE_KILL = 400;

interface Acks {
  nodes: Map<NodeId, number>;
  trust: Map<NodeId, number>;
  lines: number;
}

/** Runs the writer, SIGKILLs it once `ACKS_BEFORE_KILL` writes are acknowledged, returns the acks. */
function runAndKill(path: string, track: (child: ChildProcess) => void): Promise<Acks> {
  const acks: Acks = { nodes: new Map(), trust: new Map(), lines: 0 };
  const child = spawn(
    process.execPath,
    ['--conditions=@netmachine/source', '--import', 'tsx', writerScript, path],
    {
      cwd: dirname(here),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  track(child);
  let pending = '';
  let stderr = '';
  let killed = false;
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? ''; // an unfinished last line is not an acknowledgement
      for (const line of lines) {
        const [kind, id, value] = line.split(' ');
        const map = kind === 'node' ? acks.nodes : acks.trust;
        const n = Number(value);
        // Versions only grow; keep the highest acknowledged one.
        if (kind === 'trust' || (map.get(id as NodeId) ?? 0) < n) map.set(id as NodeId, n);
        acks.lines++;
      }
      if (!killed && acks.lines >= ACKS_BEFORE_KILL) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve(acks);
      else reject(new Error(`writer exited with ${code} before the kill: ${stderr.slice(-2000)}`));
    });
  });
}

describe('lmdb identity store under SIGKILL', () => {
  let dir: string | undefined;
  let child: ChildProcess | undefined;

  afterEach(async () => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged record when the writer is killed mid-write', async () => {
    dir = await mkdtemp(join(tmpdir(), 'netmachine-identity-crash-'));
    const path = join(dir, 'store');
    const acks = await runAndKill(path, (c) => {
      child = c;
    });
    expect(acks.lines).toBeGreaterThanOrEqual(ACKS_BEFORE_KILL);

    await using store = await openIdentityStore({ path });
    expect(store.counters().loadSkipped).toBe(0);
    for (const [id, version] of acks.nodes) {
      // A write issued after the last acknowledgement may also have landed: never older, maybe newer.
      expect(store.node(id)?.advert?.version ?? 0).toBeGreaterThanOrEqual(version);
    }
    for (const [id, trust] of acks.trust) expect(store.node(id)?.trust).toBe(trust);
    // Still a working store: it takes a new write and serves it.
    const key = newKey();
    expect(await store.offerNodeAdvert(nodeAdvert(key, 1))).toBe(true);
  }, 120_000); // generous: starting a TypeScript child on a busy machine can be slow
});
