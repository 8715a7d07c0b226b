import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InsecureKeyFileError, noopLogger } from '@netmachine/core';
import { ControlServer, createNode, nodePaths } from 'netmachine';
import { afterEach, describe, expect, it } from 'vitest';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function stateDir(): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'nm-reliability-perm-'));
  cleanups.push(() => rm(parent, { recursive: true, force: true }));
  return join(parent, 'node');
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const config = { listen: ['tls://127.0.0.1:0'], transports: ['tls' as const], metrics: false as const };

describe('files and endpoints that other users must not reach', () => {
  it('a new state directory is 0700 and its key file 0600', async () => {
    const dir = await stateDir();
    const node = await createNode({ dir, config });
    cleanups.push(() => node.stop());
    await node.start();
    const paths = nodePaths(dir);
    const modes = { dir: await modeOf(paths.dir), key: await modeOf(paths.key) };
    console.log(JSON.stringify({ modes: { dir: modes.dir.toString(8), key: modes.key.toString(8) } }));
    expect(modes.dir).toBe(0o700);
    expect(modes.key).toBe(0o600);
  });

  it('a key file readable by the group or by others is refused', async () => {
    const dir = await stateDir();
    const node = await createNode({ dir, config });
    const id = node.id;
    await node.identity.stop();
    const key = nodePaths(dir).key;
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(key, mode);
      await expect(createNode({ dir, config }), mode.toString(8)).rejects.toBeInstanceOf(
        InsecureKeyFileError,
      );
    }
    // Put right, the same key is used again.
    await chmod(key, 0o600);
    const again = await createNode({ dir, config });
    expect(again.id).toBe(id);
    await again.identity.stop();
  });

  it('the control socket is 0600 from its first moment, whatever the umask', async () => {
    const dir = await stateDir();
    const node = await createNode({ dir, config }); // makes the 0700 directory
    await node.identity.stop();
    const previous = process.umask(0);
    const socketPath = nodePaths(dir).controlSocket;
    const server = new ControlServer(socketPath, { ping: async () => 'pong' }, noopLogger);
    try {
      await server.start();
    } finally {
      process.umask(previous);
    }
    cleanups.push(() => server.stop());
    const mode = await modeOf(socketPath);
    console.log(JSON.stringify({ controlSocketMode: mode.toString(8) }));
    expect(mode).toBe(0o600);
  });
});
