import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type NodeId, PeerDeniedError, PeerKeyMismatchError } from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTransport, Sink } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/listener-process.ts', import.meta.url));

let child: ChildProcess | undefined;
afterEach(async () => {
  if (child !== undefined && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
  child = undefined;
});

async function startListenerProcess(allowed: string): Promise<{ address: string; node: NodeId }> {
  child = spawn(process.execPath, ['--conditions=@netmachine/source', '--import', 'tsx', script, allowed], {
    cwd: packageDir,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(([code]) => {
    throw new Error(`listener process exited early with ${code}`);
  });
  const [line] = (await Promise.race([once(lines, 'line'), exited])) as [string];
  return JSON.parse(line) as { address: string; node: NodeId };
}

describe('quic transport across processes', { timeout: 120_000 }, () => {
  it('talks to a listener in a child process, which pins and refuses keys too', async () => {
    const me = makeTransport();
    const stranger = makeTransport();
    const wrongKey = makeTransport();
    try {
      const { address, node } = await startListenerProcess(me.keyPair.id);

      const connection = await me.transport.dial(address, node);
      expect(connection.remoteNode).toBe(node);
      const sink = new Sink();
      connection.setHandlers(sink);
      connection.write(Buffer.from('ping'));
      await expect
        .poll(() => sink.text(), { message: 'the echo from the child process', timeout: 60_000 })
        .toBe('echo:ping');

      await expect(stranger.transport.dial(address, node)).rejects.toBeInstanceOf(PeerDeniedError);
      await expect(me.transport.dial(address, wrongKey.keyPair.id)).rejects.toBeInstanceOf(
        PeerKeyMismatchError,
      );

      child!.kill('SIGTERM');
      await expect
        .poll(() => sink.closed, { message: 'the connection to close when the child stops', timeout: 60_000 })
        .toBe(true);
    } finally {
      await Promise.all([me.transport.close(), stranger.transport.close(), wrongKey.transport.close()]);
    }
  });
  it('notices when the listener process is killed', async () => {
    // QUIC has no FIN from a dead process: the idle timeout (kept short here) notices the silence.
    const me = makeTransport({ idleTimeoutMs: 2_000, keepAliveIntervalMs: 300 });
    try {
      const { address, node } = await startListenerProcess(me.keyPair.id);
      const connection = await me.transport.dial(address, node);
      const sink = new Sink();
      connection.setHandlers(sink);
      connection.write(Buffer.from('ping'));
      await expect
        .poll(() => sink.text(), { message: 'the echo from the child process', timeout: 60_000 })
        .toBe('echo:ping');
      child!.kill('SIGKILL');
      await expect
        .poll(() => sink.closed, { message: 'the connection to close after the kill', timeout: 60_000 })
        .toBe(true);
      expect(me.transport.stats.openConnections).toBe(0);
    } finally {
      await me.transport.close();
    }
  });
});
