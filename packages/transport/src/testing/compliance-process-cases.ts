import {
  KeyPair,
  type NodeId,
  PeerDeniedError,
  PeerKeyMismatchError,
  type Transport,
} from '@netmachine/core';
import { expect, it } from 'vitest';
import type { ComplianceSetup, ComplianceSuite, ListenerProcessSpec } from './compliance-setup.js';
import { ConnectionProbe, type ListenerChild, startListenerProcess } from './compliance-tools.js';

/** The cases against a listener of the transport in another process (killed, refusing keys). */
export function listenerProcessCases(suite: ComplianceSuite, processSpec: ListenerProcessSpec): void {
  /** The dialer for a cross-process case, and a listener in a child process that accepts only it. */
  async function withListenerProcess(): Promise<{
    s: ComplianceSetup;
    dialer: { readonly transport: Transport; readonly keyPair: KeyPair };
    listener: ListenerChild;
    probe: ConnectionProbe;
  }> {
    const s = await suite.setUp();
    const dialer = processSpec.dialer?.() ?? s.dialer;
    if (dialer !== s.dialer) suite.track(dialer.transport);
    const listener = await startListenerProcess(processSpec, s.listenAddress, dialer.keyPair.id);
    suite.trackChild(listener.child);
    const probe = new ConnectionProbe(await dialer.transport.dial(listener.address, listener.node));
    expect(probe.connection.remoteNode).toBe(listener.node);
    probe.connection.write(Buffer.from('ping'));
    await probe.until(() => probe.bytes().toString() === 'echo:ping', 'the echo from the child process');
    return { s, dialer, listener, probe };
  }

  it('talks to a listener in another process, which pins and refuses keys too', {
    timeout: suite.timeout,
  }, async () => {
    const { s, dialer, listener, probe } = await withListenerProcess();
    // The setup's listener transport holds a key the child does not accept.
    await expect(s.listener.transport.dial(listener.address, listener.node)).rejects.toBeInstanceOf(
      PeerDeniedError,
    );
    const stranger = KeyPair.generate().id as NodeId;
    await expect(dialer.transport.dial(listener.address, stranger)).rejects.toBeInstanceOf(
      PeerKeyMismatchError,
    );
    listener.child.kill('SIGTERM');
    await probe.until(() => probe.closed, 'the connection to close when the child stops');
    expect(probe.connection.write(Buffer.from('late'))).toBe(false);
  });

  it('notices when the listener process is killed', { timeout: suite.timeout }, async () => {
    const { listener, probe } = await withListenerProcess();
    listener.child.kill('SIGKILL');
    await probe.until(() => probe.closed, 'the connection to close after the kill');
    expect(probe.closeCount).toBe(1);
    expect(probe.connection.write(Buffer.from('late'))).toBe(false);
  });
}
