import { InvalidAddressError, type NodeId } from '@netmachine/core';
import { expect, it } from 'vitest';
import { parseAddress } from '../socket-address.js';
import type { ComplianceSuite } from './compliance-setup.js';
import { ConnectionProbe, Inbox } from './compliance-tools.js';

/** The cases of transports whose addresses are `scheme://host:port` URLs (TLS, QUIC). */
export function addressCases(suite: ComplianceSuite): void {
  it('reports its addresses as scheme://host:port URLs and refuses malformed ones', {
    timeout: suite.timeout,
  }, async () => {
    const { s, address, client, server } = await suite.connected();
    const protocol = s.listener.transport.protocol;
    const { host } = parseAddress(s.listenAddress, protocol);
    const bound = parseAddress(address, protocol);
    expect(bound.host).toBe(host);
    expect(bound.port).toBeGreaterThan(0);
    expect(client.connection.remoteAddress).toBe(address);
    const caller = parseAddress(server.connection.remoteAddress, protocol);
    expect(caller.host).toBe(host);
    expect(caller.port).toBeGreaterThan(0);
    const expected = s.listener.keyPair.id as NodeId;
    for (const bad of [
      `${protocol}x://${host}:1`,
      `${protocol}://${host}`,
      `${protocol}://${host}:1/path`,
      `${protocol}://u:p@${host}:1`,
      `${protocol}://${host}:99999`,
      'not a url',
    ]) {
      await expect(s.dialer.transport.dial(bad, expected), bad).rejects.toBeInstanceOf(InvalidAddressError);
      await expect(
        s.listener.transport.listen(bad, () => {}),
        bad,
      ).rejects.toBeInstanceOf(InvalidAddressError);
    }
  });

  it('works over IPv6 loopback', { timeout: suite.timeout }, async (context) => {
    const s = await suite.setUp();
    const protocol = s.listener.transport.protocol;
    const inbox = new Inbox();
    let address: string;
    try {
      address = (await s.listener.transport.listen(`${protocol}://[::1]:0`, inbox.accept)).addresses[0]!;
    } catch {
      context.skip(); // no IPv6 on this machine
      return;
    }
    expect(address).toMatch(new RegExp(`^${protocol}://\\[::1\\]:\\d+$`));
    const client = new ConnectionProbe(
      await s.dialer.transport.dial(address, s.listener.keyPair.id as NodeId),
    );
    expect(client.connection.remoteAddress).toBe(address);
    const server = await inbox.next(0);
    expect(parseAddress(server.connection.remoteAddress, protocol).host).toBe('::1');
    client.connection.write(Buffer.from('over ipv6'));
    await server.until(() => server.received >= 9, 'data over IPv6');
    expect(server.bytes().toString()).toBe('over ipv6');
  });
}
