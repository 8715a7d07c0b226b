import {
  type EngineMessage,
  FrameTooLargeError,
  identityBytes,
  KeyPair,
  type NodeId,
  signMessage,
} from '@netmachine/core';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, type TransportEvent } from '../src/index.js';
import { encodeAdvertFrameBody, encodeFrame, FrameTag, messageToWire } from '../src/wire/index.js';
import { RawPeer, startNode, type TestNode, type TestNodeOptions } from './helpers.js';

let nodes: TestNode[] = [];
let network: MemoryNetwork;

async function target(options: Partial<TestNodeOptions> = {}): Promise<TestNode> {
  network = new MemoryNetwork();
  // Raw peers never answer a Goodbye: do not wait long for them when the node stops.
  const n = await startNode('t', { network, ...options, limits: { closeTimeoutMs: 200, ...options.limits } });
  nodes.push(n);
  return n;
}

function drops(n: TestNode): Array<Extract<TransportEvent, { type: 'message:dropped' }>> {
  const list: Array<Extract<TransportEvent, { type: 'message:dropped' }>> = [];
  n.engine.events.on('message:dropped', (e) => list.push(e));
  return list;
}

function wireMessage(src: NodeId, dst: NodeId, body: unknown): EngineMessage {
  return {
    id: 1,
    src: { node: src, name: 'x' },
    dst: { node: dst, name: 'receiver' },
    protocol: 'test@1',
    body,
  };
}

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.engine.stop()));
  nodes = [];
});

describe('TransportEngine against a misbehaving peer', () => {
  it('answers a ConnectRequest for another node with Denied, and an unknown protocol with Incompatible', async () => {
    const t = await target();
    const wrongDst = await RawPeer.dial(network, t);
    expect(await wrongDst.handshake(KeyPair.generate().id)).toEqual([false, 'Denied', expect.any(String)]);
    await wrongDst.probe.until(() => wrongDst.probe.closed, 'close after Denied');

    const future = await RawPeer.dial(network, t);
    expect(await future.handshake(t.id, [5, 9])).toEqual([false, 'Incompatible', expect.any(String)]);
    await future.probe.until(() => future.probe.closed, 'close after Incompatible');
    expect(t.engine.counters().handshakeFailures).toBe(2);
    expect(t.engine.connectedNodes()).toEqual([]);
  });

  it('closes a connection that sends anything but a ConnectRequest first', async () => {
    const t = await target();
    const peer = await RawPeer.dial(network, t);
    peer.sendFrame(FrameTag.Message, messageToWire(wireMessage(peer.key.id, t.id, 'too early')));
    await peer.probe.until(() => peer.probe.closed, 'close');
    expect(t.sink.delivered).toEqual([]);
    expect(t.engine.counters().handshakeFailures).toBe(1);
  });

  it("refuses a message claiming another source node, even signed by it: the link carries only its peer's", async () => {
    const t = await target();
    const dropped = drops(t);
    // The retired third-party frame (type 8: `[srcNode, message]`), with a valid signature of that source.
    const victim = KeyPair.generate();
    const signed = signMessage(victim, wireMessage(victim.id, t.id, 'forwarded'));
    const peer = await RawPeer.dial(network, t);
    expect((await peer.handshake(t.id))[0]).toBe(true);
    peer.sendFrame(0x08, [identityBytes(victim.id), messageToWire(signed)]);
    await peer.probe.until(() => peer.probe.closed, 'disconnect');
    expect(t.sink.delivered).toEqual([]);
    expect(t.engine.counters().dropped['malformed-frame']).toBe(1);
    expect(dropped[0]?.error.name).toBe('SchemaError');
  });

  it('closes the connection on a malformed frame with a typed error, and keeps serving others', async () => {
    const t = await target();
    const dropped = drops(t);
    const good = await RawPeer.dial(network, t);
    await good.handshake(t.id);
    const cases: Array<[string, Buffer]> = [
      ['bad msgpack', Buffer.from([0, 0, 0, 3, FrameTag.Message, 0xc1, 0xc1])],
      ['wrong shape', encodeFrame(FrameTag.Message, ['not', 'a', 'message'])],
      ['unknown tag', encodeFrame(0x7f, 1)],
      ['oversized', Buffer.from([0xff, 0xff, 0xff, 0xff, FrameTag.Message])],
    ];
    for (const [, bytes] of cases) {
      const bad = await RawPeer.dial(network, t);
      await bad.handshake(t.id);
      bad.connection.write(bytes);
      await bad.probe.until(() => bad.probe.closed, 'close');
    }
    expect(t.engine.counters().dropped['malformed-frame']).toBe(cases.length);
    expect(dropped.map((d) => d.error.name)).toEqual([
      'MalformedFrameError',
      'SchemaError',
      'SchemaError',
      'FrameTooLargeError',
    ]);
    expect(dropped.at(-1)?.error).toBeInstanceOf(FrameTooLargeError);
    good.sendFrame(FrameTag.Message, messageToWire(wireMessage(good.key.id, t.id, 'still here')));
    await expect.poll(() => t.sink.delivered.length, { message: 'good peer delivered' }).toBe(1);
    expect(good.probe.closed).toBe(false);
  });

  it('in strict mode, drops an unsigned message and disconnects', async () => {
    const t = await target({ engine: { strict: true } });
    const peer = await RawPeer.dial(network, t);
    await peer.handshake(t.id);
    peer.sendFrame(FrameTag.Message, messageToWire(wireMessage(peer.key.id, t.id, 'unsigned')));
    await peer.probe.until(() => peer.probe.closed, 'disconnect');
    expect(t.engine.counters().dropped['bad-signature']).toBe(1);
    expect(t.sink.delivered).toEqual([]);
    const signer = await RawPeer.dial(network, t);
    await signer.handshake(t.id);
    const signed = signMessage(signer.key, wireMessage(signer.key.id, t.id, 'signed'));
    signer.sendFrame(FrameTag.Message, messageToWire(signed));
    await expect.poll(() => t.sink.delivered.length, { message: 'signed delivered' }).toBe(1);
  });

  it('in strict mode with verify threads, delivers what came before a forged message and nothing after', async () => {
    const t = await target({ engine: { strict: true, verifyThreads: 2 } });
    const dropped = drops(t);
    const peer = await RawPeer.dial(network, t);
    await peer.handshake(t.id);
    const signed = (n: number) =>
      signMessage(peer.key, { ...wireMessage(peer.key.id, t.id, `m${n}`), id: n });
    // One write: the three reach the verifier in one batch.
    const forged = { ...signed(2), body: 'changed after signing' };
    peer.connection.write(
      Buffer.concat(
        [signed(1), forged, signed(3)].map((m) => encodeFrame(FrameTag.Message, messageToWire(m))),
      ),
    );
    await peer.probe.until(() => peer.probe.closed, 'disconnect');
    await expect.poll(() => dropped.length, { message: 'the drop' }).toBe(1);
    expect(dropped[0]?.reason).toBe('bad-signature');
    expect(t.sink.delivered.map((m) => m.body)).toEqual(['m1']);
  });

  it('refuses a forged advert of another node', async () => {
    const t = await target();
    const dropped = drops(t);
    const peer = await RawPeer.dial(network, t);
    await peer.handshake(t.id);
    const other = nodes[0]!.advert; // t's own advert, sent by someone else
    peer.sendFrame(FrameTag.NodeAdvert, encodeAdvertFrameBody(other));
    await peer.probe.until(() => peer.probe.closed, 'disconnect');
    expect(dropped.map((d) => d.reason)).toEqual(['bad-advert']);
  });

  it('refuses callers over capacity with OverCapacity', async () => {
    const t = await target({ limits: { maxConnections: 1 } });
    const first = await RawPeer.dial(network, t);
    expect((await first.handshake(t.id))[0]).toBe(true);
    const second = await RawPeer.dial(network, t);
    expect(await second.handshake(t.id)).toEqual([false, 'OverCapacity', expect.any(String)]);
  });
});
