import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseNodeAdvert } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { type Progress, parseReference } from '../src/index.js';
import { tempDir } from './helpers.js';
import { startTlsStorageNode, type TlsStorageNode } from './tls-node.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const fixture = resolve(import.meta.dirname, 'fixtures/serve-file.ts');
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGKILL');
      await exited;
    }
  }
  while (cleanups.length > 0) await cleanups.pop()!();
});

function serve(dir: string, file: string, mode = 'honest'): Promise<{ advert: string; reference: string }> {
  return new Promise((resolveReady, reject) => {
    const child = spawn(
      process.execPath,
      ['--conditions=@netmachine/source', '--import', 'tsx', fixture, dir, file, mode],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const newline = out.indexOf('\n');
      if (newline >= 0) resolveReady(JSON.parse(out.slice(0, newline)));
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before ready: ${err}`)));
  });
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of createReadStream(path)) hash.update(piece as Buffer);
  return hash.digest('hex');
}

describe('storage across processes over TLS', () => {
  it('a 50 MiB file put on node A comes back byte-identical on node B', { timeout: 240_000 }, async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const input = join(dir.path, 'input.bin');
    const data = randomBytes(50 * 1024 * 1024);
    await writeFile(input, data);
    const expected = createHash('sha256').update(data).digest('hex');

    await mkdir(join(dir.path, 'a'));
    const served = await serve(join(dir.path, 'a'), input);
    const reference = parseReference(served.reference);

    const b: TlsStorageNode = await startTlsStorageNode(join(dir.path, 'b'));
    cleanups.push(() => b.stop());
    await b.addPeer(served.advert);
    const progress: Progress[] = [];
    const result = await b.engine.fetch(b.router.client('cli'), reference, [parseNodeIdOf(served.advert)], {
      concurrency: 8,
      timeoutMs: 60_000,
      onProgress: (p) => progress.push(p),
    });
    expect(result).toMatchObject({ corrupt: 0, local: 0, totalBytes: data.length });
    expect(result.fetched).toBe(result.chunks);
    expect(progress.at(-1)).toEqual({ bytes: data.length, totalBytes: data.length });

    const output = join(dir.path, 'output.bin');
    await b.storage.getToFile(reference, output);
    expect(await sha256(output)).toBe(expected);
  });

  it('goes on with another node when the serving process is killed mid-fetch', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const input = join(dir.path, 'input.bin');
    const data = randomBytes(16 * 1024 * 1024);
    await writeFile(input, data);
    await mkdir(join(dir.path, 'a1'));
    await mkdir(join(dir.path, 'a2'));
    const [first, second] = await Promise.all([
      serve(join(dir.path, 'a1'), input),
      serve(join(dir.path, 'a2'), input),
    ]);
    expect(second.reference).toBe(first.reference); // convergent: same content, same reference
    const reference = parseReference(first.reference);
    const doomed = parseNodeIdOf(first.advert);

    const b = await startTlsStorageNode(join(dir.path, 'b'));
    cleanups.push(() => b.stop());
    await b.addPeer(first.advert);
    await b.addPeer(second.advert);
    let killed = false;
    const result = await b.engine.fetch(
      b.router.client('cli'),
      reference,
      [doomed, parseNodeIdOf(second.advert)],
      {
        concurrency: 8,
        // Requests in flight to the killed node fail at their timeout; the rest go to the other node.
        timeoutMs: 15_000,
        onProgress: (p) => {
          if (!killed && p.bytes >= data.length / 3) {
            killed = true;
            children[0]!.kill('SIGKILL');
          }
        },
      },
    );
    expect(killed).toBe(true);
    expect(result.fetched).toBe(result.chunks);
    // Whether requests to the killed node fail or are overtaken by the stall detector depends on
    // timing; what must hold is that the other node finished the job.
    const survivor = result.peers.find((p) => p.node === parseNodeIdOf(second.advert))!;
    expect(survivor.served).toBeGreaterThan(0);
    expect(result.peers.find((p) => p.node === doomed)!.served).toBeLessThan(result.chunks);
    const output = join(dir.path, 'output.bin');
    await b.storage.getToFile(reference, output);
    expect(await sha256(output)).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('detects a serving process that sends wrong chunks and fetches them from another', {
    timeout: 240_000,
  }, async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const input = join(dir.path, 'input.bin');
    const data = randomBytes(8 * 1024 * 1024);
    await writeFile(input, data);
    await mkdir(join(dir.path, 'liar'));
    await mkdir(join(dir.path, 'honest'));
    const [liar, honest] = await Promise.all([
      serve(join(dir.path, 'liar'), input, 'corrupt'),
      serve(join(dir.path, 'honest'), input),
    ]);
    const reference = parseReference(honest.reference);
    const b = await startTlsStorageNode(join(dir.path, 'b'));
    cleanups.push(() => b.stop());
    await b.addPeer(liar.advert);
    await b.addPeer(honest.advert);
    const liarId = parseNodeIdOf(liar.advert);
    const result = await b.engine.fetch(
      b.router.client('cli'),
      reference,
      [liarId, parseNodeIdOf(honest.advert)],
      {
        concurrency: 4,
      },
    );
    expect(result.corrupt).toBeGreaterThan(0);
    expect(result.peers.find((p) => p.node === liarId)).toMatchObject({ served: 0, corrupt: result.corrupt });
    expect(b.storage.store.counters().corruptChunks).toBe(0); // nothing bad was ever stored
    const output = join(dir.path, 'output.bin');
    await b.storage.getToFile(reference, output);
    expect(await sha256(output)).toBe(createHash('sha256').update(data).digest('hex'));
  });
});

function parseNodeIdOf(advertText: string) {
  return parseNodeAdvert(advertText).id;
}
