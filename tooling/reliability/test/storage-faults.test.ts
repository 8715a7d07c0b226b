import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storage } from '@netmachine/storage';
import { memory } from '@netmachine/transport';
import { FaultController, faulty } from '@netmachine/transport/testing';
import { createNode } from 'netmachine';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Block storage over a faulty link: a fetch verifies every chunk as it arrives, so delayed,
 * duplicated and reordered writes cost nothing but time, and a fetch cut by connection resets is
 * finished by a second one that takes only the chunks still missing.
 */
const makeNode = (controller: FaultController) =>
  createNode({
    config: { listen: ['memory://0'], transports: ['memory'], metrics: false },
    transports: [faulty(memory(), controller)],
    services: { storage: storage() },
  });
type StorageNode = Awaited<ReturnType<typeof makeNode>>;

const nodes: StorageNode[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.stop();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function faultyPair(controller: FaultController): Promise<[StorageNode, StorageNode]> {
  const a = await makeNode(controller);
  const b = await makeNode(controller);
  nodes.push(a, b);
  await a.start();
  await b.start();
  await b.addPeer(a.advert, { permanent: true });
  await a.addPeer(b.advert);
  return [a, b];
}

/** A seeded generator, so the faults a run injects are the same every time. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('storage under injected faults', { timeout: 240_000 }, () => {
  it('a fetch over delayed, duplicated and reordered writes comes back byte-identical', async () => {
    const controller = new FaultController({}, seeded(7));
    const [a, b] = await faultyPair(controller);
    const dir = await mkdtemp(join(tmpdir(), 'nm-storage-faults-'));
    dirs.push(dir);
    const data = randomBytes(6 * 2 ** 20 + 12345);
    await writeFile(join(dir, 'in.bin'), data);
    const reference = await a.services.storage.put(join(dir, 'in.bin'));
    controller.knobs = { delayMs: 5, duplicate: 0.5, reorder: 0.2 };
    await b.services.storage.engine.fetch(b.client('fetcher'), reference, [a.id], { timeoutMs: 20_000 });
    controller.knobs = {};
    await b.services.storage.storage.getToFile(reference, join(dir, 'out.bin'));
    const out = await readFile(join(dir, 'out.bin'));
    console.log(JSON.stringify({ case: 'storage-faults', counts: controller.counts }));
    expect(controller.counts.duplicated).toBeGreaterThan(0);
    expect(out.length).toBe(data.length);
    expect(sha(out)).toBe(sha(data));
  });

  it('a fetch cut by connection resets fails with a typed error, and a second one resumes and completes', async () => {
    const controller = new FaultController({});
    const [a, b] = await faultyPair(controller);
    const dir = await mkdtemp(join(tmpdir(), 'nm-storage-faults-'));
    dirs.push(dir);
    const data = randomBytes(8 * 2 ** 20);
    await writeFile(join(dir, 'in.bin'), data);
    const reference = await a.services.storage.put(join(dir, 'in.bin'));
    let cut = false;
    let firstError: unknown;
    try {
      await b.services.storage.engine.fetch(b.client('fetcher-1'), reference, [a.id], {
        concurrency: 2,
        timeoutMs: 1_000,
        rounds: 1,
        onProgress: ({ bytes }) => {
          // Halfway through, every connection is reset and new dials fail for a moment.
          if (!cut && bytes >= 3 * 2 ** 20) {
            cut = true;
            controller.knobs = { refuseDials: true };
            controller.resetAll();
          }
        },
      });
    } catch (error) {
      firstError = error;
    }
    expect(cut).toBe(true);
    controller.knobs = {};
    if (firstError !== undefined) {
      expect((firstError as { code?: string }).code).toMatch(/^ERR_/);
    }
    await b.services.storage.engine.fetch(b.client('fetcher-2'), reference, [a.id], { timeoutMs: 20_000 });
    await b.services.storage.storage.getToFile(reference, join(dir, 'out.bin'));
    expect(sha(await readFile(join(dir, 'out.bin')))).toBe(sha(data));
    console.log(JSON.stringify({ case: 'storage-resets', firstFetchFailed: firstError !== undefined }));
  });
});
