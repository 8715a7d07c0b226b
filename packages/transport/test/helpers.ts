import {
  type Connection,
  type EngineMessage,
  KeyPair,
  type MessageSink,
  type NodeAdvert,
  type NodeDirectory,
  type NodeId,
  type NodeRecordView,
  noopLogger,
  signNodeAdvert,
  TRUST_DEFAULT,
  unpack,
  verifyNodeAdvert,
} from '@netmachine/core';
import { ConnectionProbe } from '@netmachine/transport/testing';
import {
  type MemoryNetwork,
  type MemoryTransportOptions,
  memory,
  TransportEngine,
  type TransportEngineOptions,
  type TransportLimits,
} from '../src/index.js';
import {
  encodeConnectRequest,
  encodeFrame,
  FrameDecoder,
  FrameTag,
  PROTOCOL_MAX,
  PROTOCOL_MIN,
} from '../src/wire/index.js';

/** A tiny in-memory NodeDirectory: records by id, adverts verified and kept when newer. */
export class TestDirectory implements NodeDirectory {
  readonly records = new Map<NodeId, NodeRecordView>();
  readonly rtts: Array<{ node: NodeId; rttMs: number }> = [];
  offered = 0;

  node(id: NodeId): NodeRecordView | undefined {
    return this.records.get(id);
  }

  set(id: NodeId, fields: Partial<Omit<NodeRecordView, 'id'>>): void {
    const old = this.records.get(id);
    this.records.set(id, { trust: TRUST_DEFAULT, ...old, ...fields, id });
  }

  async offerNodeAdvert(advert: NodeAdvert): Promise<boolean> {
    this.offered++;
    verifyNodeAdvert(advert);
    const known = this.records.get(advert.id)?.advert;
    if (known !== undefined && known.version >= advert.version) return false;
    this.set(advert.id, { advert });
    return true;
  }

  recordRtt(node: NodeId, rttMs: number): void {
    this.rtts.push({ node, rttMs });
  }
}

/** A MessageSink that records what it gets. */
export class TestSink implements MessageSink {
  readonly delivered: EngineMessage[] = [];
  readonly failed: Array<{ message: EngineMessage; error: Error }> = [];

  deliver(message: EngineMessage): boolean {
    this.delivered.push(message);
    return true;
  }

  undeliverable(message: EngineMessage, error: Error): void {
    this.failed.push({ message, error });
  }
}

export interface TestNode {
  readonly name: string;
  readonly key: KeyPair;
  readonly id: NodeId;
  readonly address: string;
  readonly advert: NodeAdvert;
  readonly directory: TestDirectory;
  readonly sink: TestSink;
  engine: TransportEngine;
  /** A fresh engine with the same key, directory and sink (a restarted node). */
  restart(): Promise<TransportEngine>;
}

let nameCounter = 0;

export interface TestNodeOptions {
  network: MemoryNetwork;
  memory?: MemoryTransportOptions;
  limits?: Partial<TransportLimits>;
  engine?: Partial<TransportEngineOptions>;
  key?: KeyPair;
}

export async function startNode(label: string, options: TestNodeOptions): Promise<TestNode> {
  const key = options.key ?? KeyPair.generate();
  const name = `${label}-${process.pid}-${++nameCounter}`;
  const address = `memory://${name}`;
  const advert = signNodeAdvert(key, {
    addrs: [{ url: address, weight: 10 }],
    version: 1,
    created: Date.now(),
  });
  const directory = new TestDirectory();
  directory.set(key.id, { advert });
  const sink = new TestSink();
  const make = (): TransportEngine => {
    const engine = new TransportEngine({
      keyPair: key,
      directory,
      transports: [memory({ network: options.network, ...options.memory })],
      listen: [address],
      backoff: { initialMs: 10, maxMs: 100 },
      ...options.engine,
      limits: { pingIntervalMs: 60_000, ...options.limits },
    });
    engine.setSink(sink);
    return engine;
  };
  const node: TestNode = {
    name,
    key,
    id: key.id,
    address,
    advert,
    directory,
    sink,
    engine: make(),
    async restart() {
      node.engine = make();
      await node.engine.start();
      return node.engine;
    },
  };
  await node.engine.start();
  return node;
}

/** Lets `a` know `b`'s advert (as the identity store would after an introduction). */
export function introduce(a: TestNode, b: TestNode): void {
  a.directory.set(b.id, { advert: b.advert });
}

export function message(
  from: TestNode,
  to: TestNode,
  body: unknown,
  extra: Partial<EngineMessage> = {},
): EngineMessage {
  return {
    id: ++messageIds,
    src: { node: from.id, name: 'sender' },
    dst: { node: to.id, name: 'receiver' },
    protocol: 'test@1',
    body,
    ...extra,
  };
}
let messageIds = 0;

/** A hand-driven peer speaking frames directly: to test what the engine does with bad input. */
export class RawPeer {
  readonly frames: Array<{ tag: number; value: unknown }> = [];
  readonly probe: ConnectionProbe;
  readonly #decoder = new FrameDecoder((tag, body) => this.frames.push({ tag, value: unpack(body) }));
  #seen = 0;

  private constructor(
    readonly key: KeyPair,
    readonly connection: Connection,
  ) {
    this.probe = new ConnectionProbe(connection);
  }

  static async dial(network: MemoryNetwork, target: TestNode, key = KeyPair.generate()): Promise<RawPeer> {
    const transport = memory({ network })({ keyPair: key, logger: noopLogger });
    const peer = new RawPeer(key, await transport.dial(target.address, target.id));
    return peer;
  }

  /** Decodes what arrived so far. */
  #read(): void {
    const chunks = this.probe.chunks;
    while (this.#seen < chunks.length) this.#decoder.push(chunks[this.#seen++]!);
  }

  async nextFrame(tag: number): Promise<unknown> {
    let found: unknown;
    await this.probe.until(() => {
      this.#read();
      const index = this.frames.findIndex((f) => f.tag === tag);
      if (index < 0) return false;
      found = this.frames.splice(index, 1)[0]!.value;
      return true;
    }, `frame ${tag}`);
    return found;
  }

  sendFrame(tag: number, value: unknown): void {
    this.connection.write(encodeFrame(tag, value));
  }

  /** Sends a ConnectRequest and returns the decoded reply array. */
  async handshake(
    target: NodeId,
    protocol: [number, number] = [PROTOCOL_MIN, PROTOCOL_MAX],
  ): Promise<unknown[]> {
    this.sendFrame(
      FrameTag.ConnectRequest,
      encodeConnectRequest({
        protoMin: protocol[0],
        protoMax: protocol[1],
        src: this.key.id,
        dst: target,
        srcAdvertVersion: 0,
        dstAdvertVersion: 1,
      }),
    );
    return (await this.nextFrame(FrameTag.ConnectReply)) as unknown[];
  }
}
