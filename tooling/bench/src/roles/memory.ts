import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeId } from '@netmachine/core';
import { DeliveryCounter } from '../payload.js';
import type { Control } from '../process/control.js';
import type { BenchNode } from '../systems/netmachine-node.js';
import { awaitDeliveries, openSystem, type SystemParams, sendFor, within } from './common.js';

/** Memory in use after a full collection (the worker runs with --expose-gc). */
export interface HeapReading {
  readonly rssMB: number;
  readonly heapUsedMB: number;
}

const MB = 2 ** 20;

export async function readHeap(): Promise<HeapReading> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the memory roles need node --expose-gc');
  // Two passes with a turn of the loop between: finalisers of the first may free more in the second.
  gc();
  await sleep(50);
  gc();
  const usage = process.memoryUsage();
  return { rssMB: usage.rss / MB, heapUsedMB: usage.heapUsed / MB };
}

// Loaded on demand: every worker loads this module, and only the memory roles need netmachine.
async function startBenchNode(
  ...args: Parameters<typeof import('../systems/netmachine-node.js').startBenchNode>
) {
  return (await import('../systems/netmachine-node.js')).startBenchNode(...args);
}

/** A node that other nodes connect to and stay connected to, idle; reports its memory. */
export async function idleHub(params: { peers: number }, control: Control): Promise<void> {
  const node = await startBenchNode({ transport: 'tls' });
  control.emit('ready', { advert: node.advert });
  await control.next('measure');
  const connected = (): number => node.transport!.connectedNodes().length;
  await within(
    (async () => {
      while (connected() < params.peers) await sleep(20);
    })(),
    30_000,
    `${params.peers} peers connected`,
  );
  // Let handshakes, advert exchanges and first pings settle before reading.
  await sleep(2000);
  control.emit('result', { ...(await readHeap()), connections: connected() });
  await control.next('stop');
  await node.stop();
}

/** `peers` nodes in one process, each holding a permanent connection to the hub. */
export async function idlePeers(
  params: { peers: number; hub: { advert: string } },
  control: Control,
): Promise<void> {
  const nodes: BenchNode[] = [];
  for (let i = 0; i < params.peers; i++) {
    const node = await startBenchNode({ transport: 'tls' });
    nodes.push(node);
    const hub: NodeId = await node.learn(params.hub.advert);
    await node.transport!.connect(hub, { permanent: true });
  }
  control.emit('connected');
  await control.next('stop');
  await Promise.all(nodes.map((node) => node.stop()));
}

/** What the parent asks of a soak role, one command at a time. */
export type SoakCommand =
  | { readonly op: 'load'; readonly durationMs: number }
  | { readonly op: 'expect'; readonly count: number }
  | { readonly op: 'heap' }
  | { readonly op: 'finish' };

/** Receives a long stream, reading its heap whenever the parent asks. */
export async function soakReceiver(params: SystemParams, control: Control): Promise<void> {
  const system = await openSystem(params);
  const counter = new DeliveryCounter(0);
  const endpoint = await system.listen({ onMessage: (payload) => counter.deliver(payload) });
  control.emit('ready', endpoint.info);
  for (;;) {
    const command = await control.next<SoakCommand>('command');
    if (command.op === 'expect') {
      await awaitDeliveries(counter, command.count, 10_000);
      control.emit('received', { received: counter.received, bad: counter.bad });
    } else if (command.op === 'heap') control.emit('heap', await readHeap());
    else break;
  }
  await control.next('stop');
  await endpoint.close();
  await system.shutdown?.();
}

/** Sends bursts of the stream on request, numbering across bursts, and reads its heap on request. */
export async function soakSender(
  params: SystemParams & { target: unknown },
  control: Control,
): Promise<void> {
  const system = await openSystem(params);
  const link = await system.connect({ target: params.target });
  control.emit('connected');
  let next = 0;
  for (;;) {
    const command = await control.next<SoakCommand>('command');
    if (command.op === 'load') {
      next = await sendFor(link, command.durationMs, next);
      control.emit('sent', { sent: next });
    } else if (command.op === 'heap') control.emit('heap', await readHeap());
    else break;
  }
  await control.next('stop');
  await link.close();
  await system.shutdown?.();
}
