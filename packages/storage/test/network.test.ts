import { randomBytes } from 'node:crypto';
import type { EngineContext, EngineMessage, NodeId } from '@netmachine/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseChunk } from '../src/chunk-format.js';
import { commitmentFromWire } from '../src/commitment.js';
import {
  CHUNK_GET_PROTOCOL,
  CHUNK_GET_PROTOCOL_V1,
  CHUNK_PUT_PROTOCOL,
  type ChunkCommitment,
  fetchObject,
  type Progress,
  replicateObject,
  type StorageEvent,
  verifyCommitment,
} from '../src/index.js';
import { type ChunkGetReply, type ChunkPutReply, parseChunkGetReply } from '../src/protocol.js';
import { collect } from './helpers.js';
import { mesh, newNode, type TestNode } from './network-helpers.js';

const nodes: TestNode[] = [];
afterEach(async () => {
  for (const node of nodes.splice(0)) await node.close();
});

async function spawnNodes(count: number, options: Parameters<typeof newNode>[0] = {}): Promise<TestNode[]> {
  const created = await Promise.all(Array.from({ length: count }, () => newNode(options)));
  nodes.push(...created);
  mesh(created.map((n) => n.router));
  return created;
}

describe('Storage engine between routers', () => {
  it('fetches a multi-MiB object from a peer, verified, byte for byte, with progress', async () => {
    const [a, b] = await spawnNodes(2, { chunkSize: 64 * 1024 });
    const data = randomBytes(6 * 1024 * 1024 + 99);
    const reference = await b!.storage.put(data);
    const progress: Progress[] = [];
    const result = await fetchObject(a!.router.client('fetcher'), reference, [b!.node], {
      storage: a!.storage,
      concurrency: 6,
      onProgress: (p) => progress.push(p),
    });
    expect(result).toMatchObject({ fetched: result.chunks, local: 0, corrupt: 0, totalBytes: data.length });
    expect(result.chunks).toBe(b!.storage.store.counters().chunks);
    expect(progress.at(-1)).toEqual({ bytes: data.length, totalBytes: data.length });
    expect((await collect(a!.storage.read(reference))).equals(data)).toBe(true);
    expect(b!.engine.counters().chunksServed).toBe(result.chunks);
  });

  it('counts the waits at the write bound when the local store commits slowly', async () => {
    const [a, b] = await spawnNodes(2, { chunkSize: 16 * 1024 });
    const data = randomBytes(40 * 16 * 1024);
    const reference = await b!.storage.put(data);
    // The fetcher's store holds every write until the test lets them through: the fetch must stop
    // at its bound of uncommitted chunks, and say so.
    const store = a!.storage.store;
    const put = store.put.bind(store);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let held = 0;
    (store as { put: typeof put }).put = (...args) => {
      held++;
      return gate.then(() => put(...args));
    };
    const fetching = fetchObject(a!.router.client('fetcher'), reference, [b!.node], {
      storage: a!.storage,
      concurrency: 4,
    });
    await vi.waitFor(() => expect(held).toBe(16));
    open();
    const result = await fetching;
    expect(result.writeWaits).toBeGreaterThan(0);
    expect(result.writeWaitMs).toBeGreaterThanOrEqual(0);
    expect(result.flushMs).toBeGreaterThanOrEqual(0);
    expect((await collect(a!.storage.read(reference))).equals(data)).toBe(true);
  });

  it('resumes a cut-short fetch without fetching held chunks again', async () => {
    const [a, b] = await spawnNodes(2, { chunkSize: 16 * 1024 });
    const data = randomBytes(2 * 1024 * 1024);
    const reference = await b!.storage.put(data);
    const controller = new AbortController();
    const client = a!.router.client('fetcher');
    await expect(
      fetchObject(client, reference, [b!.node], {
        storage: a!.storage,
        concurrency: 2,
        signal: controller.signal,
        onProgress: (p) => {
          if (p.bytes >= data.length / 2) controller.abort();
        },
      }),
    ).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const held = a!.storage.store.counters().chunks;
    expect(held).toBeGreaterThan(0);
    const served = b!.engine.counters().chunksServed;
    const result = await fetchObject(client, reference, [b!.node], { storage: a!.storage, concurrency: 4 });
    expect(result.local).toBeGreaterThanOrEqual(held - 1);
    expect(result.fetched + result.local).toBe(result.chunks);
    expect(b!.engine.counters().chunksServed - served).toBe(result.fetched);
    expect((await collect(a!.storage.read(reference))).equals(data)).toBe(true);
  });

  it.each([
    ['in line', 0],
    ['on a worker thread', 1],
  ])(
    'detects a peer that serves wrong chunks (checked %s), counts it, and fetches from another peer',
    async (_, hashThreads) => {
      const [a, good] = await spawnNodes(2, { chunkSize: 96 * 1024 });
      // A node whose `storage` engine answers every request with bytes that are not the chunk.
      const [evil] = await spawnNodes(1);
      mesh([a!.router, good!.router, evil!.router]);
      await evil!.router.engine('storage')!.stop();
      evil!.router.spawn('storage', (m: EngineMessage, ctx: EngineContext) => {
        // Large enough to be checked on the hash pool when the fetch has one.
        const reply: ChunkGetReply = { ok: true, content: [randomBytes(96 * 1024)] };
        ctx.reply(m, reply, { protocol: CHUNK_GET_PROTOCOL });
      });
      const data = randomBytes(1024 * 1024);
      const reference = await good!.storage.put(data);
      const events: StorageEvent[] = [];
      a!.storage.store.events.on('*', (e) => events.push(e));
      const result = await fetchObject(a!.router.client('fetcher'), reference, [evil!.node, good!.node], {
        storage: a!.storage,
        concurrency: 4,
        hashThreads,
      });
      expect(result.corrupt).toBeGreaterThanOrEqual(1);
      const evilScore = result.peers.find((p) => p.node === evil!.node)!;
      const goodScore = result.peers.find((p) => p.node === good!.node)!;
      expect(evilScore.corrupt).toBe(result.corrupt);
      expect(evilScore.served).toBe(0);
      expect(goodScore.served).toBe(result.chunks);
      expect(events.filter((e) => e.type === 'chunk:corrupt' && e.source === 'peer')).toHaveLength(
        result.corrupt,
      );
      expect((await collect(a!.storage.read(reference))).equals(data)).toBe(true);
    },
  );

  it.each([
    ['serves it as stored; the fetcher finds the mismatch', false],
    ['re-hashes it first, finds the damage and answers not-found', true],
  ])('a holder whose copy of a chunk is damaged %s', async (_, verifyOnServe) => {
    const [a, good] = await spawnNodes(2);
    const [damaged] = await spawnNodes(1, { verifyOnServe });
    mesh([a!.router, good!.router, damaged!.router]);
    const data = randomBytes(1000); // one chunk: the root is the leaf
    const reference = await good!.storage.put(data);
    const stored = good!.storage.store.get(reference.root)!;
    // The damaged holder keeps other bytes under the chunk's id, as a failing disk would leave them.
    const wrong = Buffer.from(stored);
    wrong[wrong.length - 1]! ^= 0x01;
    await damaged!.storage.store.put([{ id: reference.root, bytes: wrong }]);
    const events: StorageEvent[] = [];
    a!.storage.store.events.on('*', (e) => events.push(e));

    const fetcher = a!.router.client('fetcher');
    const fetching = fetchObject(fetcher, reference, [damaged!.node], {
      storage: a!.storage,
    });
    if (verifyOnServe) {
      await expect(fetching).rejects.toMatchObject({ code: 'ERR_CHUNK_NOT_FOUND' });
      expect(damaged!.storage.store.counters().corruptChunks).toBe(1);
      expect(damaged!.engine.counters()).toMatchObject({ chunksServed: 0, notFound: 1 });
      expect(events).toEqual([]);
    } else {
      await expect(fetching).rejects.toMatchObject({ code: 'ERR_CORRUPT_CHUNK' });
      expect(damaged!.storage.store.counters().corruptChunks).toBe(0);
      expect(damaged!.engine.counters().chunksServed).toBe(1);
      expect(events).toEqual([expect.objectContaining({ type: 'chunk:corrupt', source: 'peer' })]);
    }
    expect(a!.storage.store.has(reference.root)).toBe(false); // nothing wrong was stored

    // Another holder has a good copy: the fetch completes from it.
    const result = await fetchObject(fetcher, reference, [damaged!.node, good!.node], {
      storage: a!.storage,
    });
    expect(result.fetched).toBe(1);
    expect((await collect(a!.storage.read(reference))).equals(data)).toBe(true);
  });

  it('fails with ChunkNotFoundError when no peer holds a chunk', async () => {
    const [a, b, c] = await spawnNodes(3);
    const reference = await c!.storage.put(randomBytes(1000));
    await expect(
      fetchObject(a!.router.client('fetcher'), reference, [b!.node], { storage: a!.storage }),
    ).rejects.toMatchObject({ code: 'ERR_CHUNK_NOT_FOUND' });
    expect(b!.engine.counters().notFound).toBe(1);
  });

  it('goes on with the next peer when one is unreachable', async () => {
    const [a, gone, b] = await spawnNodes(3, { chunkSize: 16 * 1024 });
    const data = randomBytes(300_000);
    const reference = await b!.storage.put(data);
    const net = mesh([a!.router, gone!.router, b!.router]);
    net.cut(gone!.node);
    const result = await fetchObject(a!.router.client('fetcher'), reference, [gone!.node, b!.node], {
      storage: a!.storage,
      timeoutMs: 5_000,
    });
    expect(result.peers.find((p) => p.node === gone!.node)!.failures).toBeGreaterThan(0);
    expect((await collect(a!.storage.read(reference))).equals(data)).toBe(true);
  });

  it('replicates to peers with signed commitments, and points askers to the holders', async () => {
    const [a, b, c, d] = await spawnNodes(4, { chunkSize: 16 * 1024 });
    const data = randomBytes(400_000);
    const now = Date.now();
    const reference = await a!.storage.put(data, { expiry: now + 60_000 });
    const commitments: ChunkCommitment[] = [];
    const replicas = await a!.engine.replicate(
      a!.router.client('replicator'),
      reference,
      [b!.node, c!.node],
      {
        maxBatchBytes: 100_000,
        onCommitments: (list) => commitments.push(...list),
      },
    );
    const chunks = a!.storage.store.counters().chunks;
    for (const replica of replicas) expect(replica).toMatchObject({ stored: chunks, existed: 0 });
    expect(commitments).toHaveLength(2 * chunks);
    expect(b!.storage.store.counters().chunks).toBe(chunks);

    // A drops its copy; asked for the object, it answers with the commitments of B and C.
    await a!.storage.store.collectGarbage(now + 120_000);
    expect(a!.storage.store.counters().chunks).toBe(0);
    const result = await fetchObject(d!.router.client('fetcher'), reference, [a!.node], {
      storage: d!.storage,
    });
    expect(a!.engine.counters().commitmentReplies).toBeGreaterThan(0);
    expect(result.fetched).toBe(chunks);
    expect((await collect(d!.storage.read(reference))).equals(data)).toBe(true);
  });

  it('answers ChunkGetRequest with children down to a depth, within the reply budget', async () => {
    const [a, b] = await spawnNodes(2, { chunkSize: 4096 });
    const reference = await b!.storage.put(randomBytes(56 * 4096 * 3)); // root → 3 internal → 168 leaves
    const client = a!.router.client('asker');
    const ask = async (children: boolean | number, protocol = CHUNK_GET_PROTOCOL) =>
      parseChunkGetReply(
        (
          await client.request(
            { node: b!.node, name: 'storage' },
            { chunk: reference.root, children },
            { protocol },
          )
        ).body,
        4096,
      ) as ChunkGetReply & { content: Uint8Array[] };
    expect((await ask(false)).content).toHaveLength(1);
    expect((await ask(1)).content).toHaveLength(4);
    const all = await ask(true);
    expect(all.content).toHaveLength(1 + 3 + 168);
    const hashing = a!.storage.store.hashing;
    expect(Buffer.from(hashing.chunkId(all.content[0]!)).equals(Buffer.from(reference.root))).toBe(true);
    expect(parseChunk(all.content[1]!).children).toHaveLength(56);
    // Version 1 is still answered, in its own shape (a map), with the same chunks.
    const v1 = await client.request(
      { node: b!.node, name: 'storage' },
      { chunk: reference.root, children: 1 },
      { protocol: CHUNK_GET_PROTOCOL_V1 },
    );
    expect(v1.protocol).toBe(CHUNK_GET_PROTOCOL_V1);
    expect(v1.body).toMatchObject({ ok: true });
    const v1Content = (v1.body as { content: Uint8Array[] }).content.map((c) => Buffer.from(c));
    expect(v1Content).toEqual((await ask(1)).content.map((c) => Buffer.from(c)));

    const [small] = await spawnNodes(1, { chunkSize: 4096, maxReplyBytes: 20_000 });
    mesh([a!.router, small!.router]);
    const ref2 = await small!.storage.put(randomBytes(56 * 4096 * 3));
    const cut = parseChunkGetReply(
      (
        await client.request(
          { node: small!.node, name: 'storage' },
          { chunk: ref2.root, children: true },
          { protocol: CHUNK_GET_PROTOCOL },
        )
      ).body,
      4096,
    ) as ChunkGetReply & { content: Uint8Array[] };
    expect(cut.content.length).toBeGreaterThan(1);
    expect(cut.content.reduce((s, c) => s + c.length, 0)).toBeLessThanOrEqual(20_000);
  });

  it('refuses malformed requests and puts over quota with typed answers', async () => {
    const [a] = await spawnNodes(1);
    const [b] = await spawnNodes(1, { quotaBytes: 100_000 });
    mesh([a!.router, b!.router]);
    const client = a!.router.client('asker');
    const to = { node: b!.node as NodeId, name: 'storage' };
    const bad = await client.request(
      to,
      { chunk: 'nope', children: false },
      { protocol: CHUNK_GET_PROTOCOL },
    );
    expect(bad.body).toMatchObject({ ok: false, error: 'invalid' });
    const notChunk = await client.request(
      to,
      { chunks: [randomBytes(10)], expiry: 1 },
      { protocol: CHUNK_PUT_PROTOCOL },
    );
    expect(notChunk.body).toMatchObject({ ok: false, error: 'invalid' });
    const reference = await a!.storage.put(randomBytes(300_000));
    const [replica] = await replicateObject(client, reference, [b!.node], { storage: a!.storage });
    expect(replica!.error?.message).toMatch(/quota/);
    expect(b!.storage.store.counters().usedBytes).toBeLessThanOrEqual(100_000);
    // A put that fits is answered with commitments signed by B.
    const small = await a!.storage.put(randomBytes(1000));
    const bytes = a!.storage.store.get(small.root)!;
    const ok = (
      await client.request(
        to,
        { chunks: [bytes], expiry: Date.now() + 60_000 },
        { protocol: CHUNK_PUT_PROTOCOL },
      )
    ).body as ChunkPutReply & { ok: true };
    const commitment = verifyCommitment(commitmentFromWire(ok.results[0]!.commitment));
    expect(commitment.node).toBe(b!.node);
    expect(ok.results[0]!.status).toBe('stored');
    expect(b!.engine.counters().invalidRequests).toBe(2);
  });
});
