import {
  ConnectionClosedError,
  type EngineMessage,
  isTopicAddress,
  KeyPair,
  type NodeId,
  type NodeSender,
} from '@netmachine/core';
import { Router } from '@netmachine/router';
import { PubSubEngine, type PubSubEngineOptions } from '../src/index.js';

export interface TestNode {
  readonly node: NodeId;
  readonly key: KeyPair;
  readonly router: Router;
  readonly pubsub: PubSubEngine;
}

type EngineOverrides = Omit<PubSubEngineOptions, 'router' | 'nodeKey'>;

/**
 * Nodes in one process joined pairwise by in-process links: what a transport does, minus the
 * bytes. Messages cross on a macrotask, in order. A cut link loses what is in flight (as a dropped
 * connection does) and tells both pubsub engines, as the Transport engine's NodeDisconnected would.
 */
export class TestNetwork {
  private readonly nodes = new Map<NodeId, TestNode>();
  private readonly up = new Set<string>();
  private readonly held = new Map<NodeId, (() => void)[]>();

  async add(overrides: EngineOverrides = {}, key = KeyPair.generate()): Promise<TestNode> {
    const node = key.id;
    const router = new Router({ node });
    const pubsub = new PubSubEngine({ router, nodeKey: key, ...overrides });
    router.setNodeSender(this.sender(node));
    await pubsub.start();
    const entry = { node, key, router, pubsub };
    this.nodes.set(node, entry);
    return entry;
  }

  /** Stops a node (a crash, as far as its peers can tell: their links to it go down). */
  async remove(member: TestNode): Promise<void> {
    for (const other of this.nodes.values()) if (other !== member) this.cut(member, other);
    this.nodes.delete(member.node);
    await member.pubsub.stop();
    await member.router.stop();
  }

  /** Brings the link up and tells both engines, unless `notify` is false (a link nobody reported). */
  connect(a: TestNode, b: TestNode, notify = true): void {
    this.up.add(pairKey(a.node, b.node));
    if (!notify) return;
    a.pubsub.onPeerConnected(b.node);
    b.pubsub.onPeerConnected(a.node);
  }

  cut(a: TestNode, b: TestNode): void {
    if (!this.up.delete(pairKey(a.node, b.node))) return;
    a.pubsub.onPeerDisconnected(b.node);
    b.pubsub.onPeerDisconnected(a.node);
  }

  /** Holds back every message to `member` (a stalled subscriber) until `release`. */
  hold(member: TestNode): void {
    if (!this.held.has(member.node)) this.held.set(member.node, []);
  }

  release(member: TestNode): void {
    const queue = this.held.get(member.node) ?? [];
    this.held.delete(member.node);
    for (const deliver of queue) deliver();
  }

  heldCount(member: TestNode): number {
    return this.held.get(member.node)?.length ?? 0;
  }

  async stop(): Promise<void> {
    for (const member of [...this.nodes.values()]) {
      await member.pubsub.stop();
      await member.router.stop();
    }
    this.nodes.clear();
  }

  private sender(from: NodeId): NodeSender {
    return {
      canReach: (node) => this.up.has(pairKey(from, node)),
      send: (message: EngineMessage) => {
        if (isTopicAddress(message.dst)) return;
        const to = message.dst.node;
        const link = pairKey(from, to);
        const deliver = (): void => {
          const target = this.nodes.get(to);
          if (target === undefined || !this.up.has(link)) {
            this.nodes.get(from)?.router.undeliverable(message, new ConnectionClosedError('link down'));
            return;
          }
          target.router.deliver(message);
        };
        setImmediate(() => {
          const held = this.held.get(to);
          if (held !== undefined) held.push(deliver);
          else deliver();
        });
      },
    };
  }
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a} ${b}` : `${b} ${a}`;
}

/** A local engine that records the bodies it receives. */
export function recorder(
  member: TestNode,
  name: string,
): { received: unknown[]; engine: ReturnType<Router['client']> } {
  const received: unknown[] = [];
  const engine = member.router.client(name, (message) => {
    received.push(message.body);
  });
  return { received, engine };
}

export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
