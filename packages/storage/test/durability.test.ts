import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseReference, Storage } from '../src/index.js';
import { tempDir } from './helpers.js';

const repoRoot = resolve(import.meta.dirname, '../../..');
const fixture = resolve(import.meta.dirname, 'fixtures/put-then-hang.ts');
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  while (cleanups.length > 0) await cleanups.pop()!();
});

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolveLine, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (data: Buffer) => {
      out += data.toString();
      const newline = out.indexOf('\n');
      if (newline >= 0) resolveLine(out.slice(0, newline));
    });
    child.stderr!.on('data', (data: Buffer) => {
      err += data.toString();
    });
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before printing: ${err}`)));
  });
}

describe('durability', () => {
  it('a put that resolved survives SIGKILL of the storing process', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const db = join(dir.path, 'db');
    const input = join(dir.path, 'input.bin');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await writeFile(input, data);

    const child = spawn(
      process.execPath,
      ['--conditions=@netmachine/source', '--import', 'tsx', fixture, db, input],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    const reference = parseReference(await firstLine(child));
    const exited = new Promise((done) => child.on('exit', done));
    child.kill('SIGKILL');
    await exited;

    const storage = await Storage.open({ path: db, gcIntervalMs: 0 });
    cleanups.unshift(() => storage.close());
    const output = join(dir.path, 'output.bin');
    await storage.getToFile(reference, output);
    expect((await readFile(output)).equals(data)).toBe(true);
  });
});
