import { ConnectionClosedError, RequestTimeoutError, UnknownDestinationError } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { link, newRouter, until } from './helpers.js';

describe('routing between two nodes through a NodeSender', () => {
  it('sends and requests across, with replies routed back to the asking engine', async () => {
    const a = newRouter();
    const b = newRouter();
    link(a, b);
    const got: unknown[] = [];
    b.spawn('sink', (m) => {
      got.push([m.src.node === a.node, m.body]);
    });
    b.spawn('echo', (m, ctx) => ctx.reply(m, { from: 'b', body: m.body }));
    const client = a.client('c');
    client.send({ node: b.node, name: 'sink' }, 'hello');
    const reply = await client.request({ node: b.node, name: 'echo' }, 5);
    expect(reply.body).toEqual({ from: 'b', body: 5 });
    expect(reply.src).toEqual({ node: b.node, name: 'echo' });
    await until(() => got.length === 1);
    expect(got).toEqual([[true, 'hello']]);
    expect(a.counters.sentRemote).toBe(2);
    expect(b.counters.receivedRemote).toBe(2);
  });

  it('rejects a request to an unreachable node at once', async () => {
    const a = newRouter();
    const b = newRouter();
    const wire = link(a, b);
    wire.cut();
    await expect(
      a.client('c').request({ node: b.node, name: 'echo' }, 1, { timeoutMs: 60_000 }),
    ).rejects.toBeInstanceOf(UnknownDestinationError);
    const noSender = newRouter();
    await expect(noSender.client('c').request({ node: b.node, name: 'x' }, 1)).rejects.toBeInstanceOf(
      UnknownDestinationError,
    );
  });

  it('fails a request whose message the transport reports undeliverable', async () => {
    const a = newRouter();
    const b = newRouter();
    a.setNodeSender({
      canReach: () => true,
      send: (m) => setImmediate(() => a.undeliverable(m, new ConnectionClosedError('peer gone'))),
    });
    await expect(
      a.client('c').request({ node: b.node, name: 'echo' }, 1, { timeoutMs: 60_000 }),
    ).rejects.toBeInstanceOf(ConnectionClosedError);
    expect(a.counters.dropped.undeliverable).toBe(1);
  });

  it('times out a remote request whose reply never comes, and gives a request an expiry', async () => {
    const a = newRouter();
    const b = newRouter();
    link(a, b);
    let expiry: number | undefined;
    b.spawn('silent', (m) => {
      expiry = m.expiry;
    });
    const before = Date.now();
    await expect(
      a.client('c').request({ node: b.node, name: 'silent' }, 1, { timeoutMs: 30 }),
    ).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(expiry).toBeGreaterThanOrEqual(before + 30);
  });

  it('does not accept a reply from a node other than the one asked', async () => {
    const a = newRouter();
    const b = newRouter();
    link(a, b);
    b.spawn('silent', () => {});
    const client = a.client('c');
    const pending = client.request({ node: b.node, name: 'silent' }, 1, { timeoutMs: 50 });
    // A reply claiming to come from a different engine on b.
    a.deliver({
      id: 1,
      src: { node: b.node, name: 'other' },
      dst: client.self,
      replyTo: 1,
      protocol: 'msg@1',
      body: 'x',
    });
    await expect(pending).rejects.toBeInstanceOf(RequestTimeoutError);
  });
});
