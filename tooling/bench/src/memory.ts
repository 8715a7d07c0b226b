import { Child, stopAll } from './process/child.js';
import type { HeapReading, SoakCommand } from './roles/memory.js';

/**
 * The memory checks of the benchmark issue, run with `pnpm bench -- --memory`:
 * - idle: a node holding 10 idle peer connections (the peers live in another process) stays under
 *   80 MB RSS;
 * - soak: after minutes of `remote-unicast` load, heap in use returns to within 10 % of its level
 *   before the load, in the sending and in the receiving node.
 */

export const IDLE_PEERS = 10;
export const IDLE_RSS_BAR_MB = 80;
export const SOAK_HEAP_BAR = 1.1;
const GC_FLAGS = ['--expose-gc'];
const STEP_TIMEOUT_MS = 60_000;

export interface IdleResult extends HeapReading {
  readonly connections: number;
}

export interface SoakSide {
  /** After connecting, before any message. */
  readonly cold: HeapReading;
  /** After a short warm-up burst (JIT, buffer pools): the baseline the bar compares with. */
  readonly warm: HeapReading;
  /** After the soak and a pause. */
  readonly after: HeapReading;
  /** after.heapUsed ÷ warm.heapUsed */
  readonly ratio: number;
}

export interface SoakResult {
  readonly soakSeconds: number;
  readonly sent: number;
  readonly received: number;
  readonly bad: number;
  readonly sender: SoakSide;
  readonly receiver: SoakSide;
}

export async function measureIdle(): Promise<IdleResult> {
  const children: Child[] = [];
  try {
    const hub = Child.start('idle hub', 'idle-hub', { peers: IDLE_PEERS }, GC_FLAGS);
    children.push(hub);
    const hubInfo = await hub.next<{ advert: string }>('ready');
    const peers = Child.start('idle peers', 'idle-peers', { peers: IDLE_PEERS, hub: hubInfo });
    children.push(peers);
    await peers.next('connected', STEP_TIMEOUT_MS);
    hub.send('measure');
    return await hub.next<IdleResult>('result', STEP_TIMEOUT_MS);
  } finally {
    await stopAll(children);
  }
}

export async function measureSoak(soakSeconds: number, log: (line: string) => void): Promise<SoakResult> {
  const spec = { system: 'netmachine', config: { transport: 'tls' } };
  const children: Child[] = [];
  try {
    const rx = Child.start('soak receiver', 'soak-receiver', spec, GC_FLAGS);
    children.push(rx);
    const target = await rx.next<unknown>('ready');
    const tx = Child.start('soak sender', 'soak-sender', { ...spec, target }, GC_FLAGS);
    children.push(tx);
    await tx.next('connected');
    const command = (child: Child, data: SoakCommand): void => child.send('command', data);
    const heaps = async (): Promise<[HeapReading, HeapReading]> => {
      command(tx, { op: 'heap' });
      command(rx, { op: 'heap' });
      return Promise.all([tx.next<HeapReading>('heap'), rx.next<HeapReading>('heap')]);
    };
    const load = async (durationMs: number): Promise<{ sent: number; received: number; bad: number }> => {
      command(tx, { op: 'load', durationMs });
      const { sent } = await tx.next<{ sent: number }>('sent', durationMs + STEP_TIMEOUT_MS);
      command(rx, { op: 'expect', count: sent });
      const { received, bad } = await rx.next<{ received: number; bad: number }>('received', STEP_TIMEOUT_MS);
      return { sent, received, bad };
    };
    const [txCold, rxCold] = await heaps();
    await load(2000);
    const [txWarm, rxWarm] = await heaps();
    log(`  soaking for ${soakSeconds} s …`);
    const totals = await load(soakSeconds * 1000);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const [txAfter, rxAfter] = await heaps();
    command(tx, { op: 'finish' });
    command(rx, { op: 'finish' });
    const side = (cold: HeapReading, warm: HeapReading, after: HeapReading): SoakSide => ({
      cold,
      warm,
      after,
      ratio: after.heapUsedMB / warm.heapUsedMB,
    });
    return {
      soakSeconds,
      ...totals,
      sender: side(txCold, txWarm, txAfter),
      receiver: side(rxCold, rxWarm, rxAfter),
    };
  } finally {
    await stopAll(children);
  }
}

const mb = (value: number): string => `${value.toFixed(1)} MB`;

export function formatMemory(idle: IdleResult | undefined, soak: SoakResult | undefined): string {
  const lines: string[] = [];
  if (idle !== undefined) {
    const met = idle.rssMB < IDLE_RSS_BAR_MB ? 'met' : 'not met';
    lines.push(
      `idle: node with ${idle.connections} idle peer connections: RSS ${mb(idle.rssMB)}, heap ${mb(idle.heapUsedMB)} (bar < ${IDLE_RSS_BAR_MB} MB RSS: ${met})`,
    );
  }
  if (soak !== undefined) {
    const lost = soak.sent - soak.received;
    lines.push(
      `soak: ${soak.soakSeconds} s of remote-unicast/tls, ${soak.sent.toLocaleString('en-US')} msgs sent${lost > 0 || soak.bad > 0 ? `, LOST ${lost}, bad ${soak.bad}` : ', all delivered'}`,
    );
    for (const [name, side] of [
      ['sender', soak.sender],
      ['receiver', soak.receiver],
    ] as const) {
      const met = side.ratio <= SOAK_HEAP_BAR ? 'met' : 'not met';
      lines.push(
        `  ${name.padEnd(9)} heap cold ${mb(side.cold.heapUsedMB)}, warm ${mb(side.warm.heapUsedMB)}, after ${mb(side.after.heapUsedMB)} = ${side.ratio.toFixed(2)}× warm (bar ≤ ${SOAK_HEAP_BAR}×: ${met}); RSS after ${mb(side.after.rssMB)}`,
      );
    }
  }
  return lines.join('\n');
}
