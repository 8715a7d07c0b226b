import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type DeliveryCounter, makePayload } from '../payload.js';
import { setProbe } from '../process/probe.js';
import { loadSystem } from '../systems/index.js';
import type { Link, SystemAdapter, SystemConfig } from '../systems/types.js';

/** Which system a role drives, and how it is configured. */
export interface SystemParams {
  readonly system: string;
  readonly config: SystemConfig;
}

export async function openSystem(params: SystemParams): Promise<SystemAdapter> {
  const factory = await loadSystem(params.system);
  return factory(params.config);
}

/** Messages sent between two looks at the clock and one yield to the event loop. */
const BATCH = 256;

/**
 * Sends numbered payloads (from `firstSeq`) for `durationMs`, honouring backpressure, and returns the
 * next sequence number (so, from 0, how many were sent).
 * Yields to the event loop after every batch so a system that never pushes back still gets to do I/O.
 */
export async function sendFor(link: Link, durationMs: number, firstSeq = 0): Promise<number> {
  const end = performance.now() + durationMs;
  let seq = firstSeq;
  setProbe('sender', () => ({ sent: seq - firstSeq }));
  for (;;) {
    for (let i = 0; i < BATCH; i++) {
      if (!link.send(makePayload(seq++))) await link.drained();
    }
    if (performance.now() >= end) return seq;
    await yieldToLoop();
  }
}

/** Waits until `expected` messages were counted, or until nothing arrived for `idleMs`. */
export function awaitDeliveries(counter: DeliveryCounter, expected: number, idleMs: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = -1;
    let lastProgress = performance.now();
    const check = (): void => {
      const total = counter.received + counter.bad;
      const now = performance.now();
      if (total !== seen) {
        seen = total;
        lastProgress = now;
      }
      if (total >= expected || now - lastProgress >= idleMs) resolve();
      else setTimeout(check, 10);
    };
    check();
  });
}

/** Waits for `promise`, failing after `ms` with a message that says what was awaited. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
