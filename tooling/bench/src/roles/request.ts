import { makePayload, payloadIntact, payloadSeq } from '../payload.js';
import type { Control } from '../process/control.js';
import { latencySummary } from '../stats.js';
import type { Link, SystemAdapter } from '../systems/types.js';
import { openSystem, type SystemParams, within } from './common.js';

/** Answers every message with the same bytes, until told to stop. */
export async function echoServer(params: SystemParams, control: Control): Promise<void> {
  const system = await openSystem(params);
  const endpoint = await system.listen({ echo: true, onMessage: () => {} });
  control.emit('ready', endpoint.info);
  await control.next('stop');
  await endpoint.close();
  await system.shutdown?.();
}

export interface RequestClientParams extends SystemParams {
  readonly target: unknown;
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface RequestResult {
  readonly count: number;
  readonly bad: number;
  readonly msgsPerSec: number | undefined;
  readonly p50us: number | undefined;
  readonly p99us: number | undefined;
}

const REPLY_TIMEOUT_MS = 10_000;

/** A link for sequential round trips (one in flight), and the round trip itself. */
export interface RoundTripLink {
  readonly link: Link;
  roundTrip(payload: Uint8Array): Promise<Uint8Array>;
}

/**
 * Connects to an echo server for sequential round trips: the system's own request where it has
 * one, otherwise a send whose echo resolves it.
 */
export async function connectForRoundTrips(system: SystemAdapter, target: unknown): Promise<RoundTripLink> {
  let pending: ((payload: Uint8Array) => void) | undefined;
  const link = await system.connect({
    target: target,
    onMessage: (payload) => {
      const resolve = pending;
      pending = undefined;
      resolve?.(payload);
    },
  });
  const roundTrip = (payload: Uint8Array): Promise<Uint8Array> => {
    if (link.request !== undefined) return link.request(payload);
    const reply = new Promise<Uint8Array>((resolve) => {
      pending = resolve;
    });
    if (!link.send(payload)) void link.drained();
    return reply;
  };
  return { link, roundTrip };
}

/** Sequential requests: one in flight, each round trip timed; samples from the warm-up are dropped. */
export async function requestClient(params: RequestClientParams, control: Control): Promise<void> {
  const system = await openSystem(params);
  const { link, roundTrip } = await connectForRoundTrips(system, params.target);
  control.emit('connected');
  await control.next('go');
  const samplesUs: number[] = [];
  let bad = 0;
  const start = performance.now();
  const measureFrom = start + params.warmupMs;
  const end = measureFrom + params.durationMs;
  let measuredAt = 0;
  for (let seq = 0; ; seq++) {
    const sentAt = process.hrtime.bigint();
    const reply = await within(roundTrip(makePayload(seq)), REPLY_TIMEOUT_MS, `reply to request ${seq}`);
    const elapsedUs = Number(process.hrtime.bigint() - sentAt) / 1000;
    if (!payloadIntact(reply) || payloadSeq(reply) !== seq) bad++;
    const now = performance.now();
    if (now >= measureFrom) {
      if (measuredAt === 0) measuredAt = now;
      samplesUs.push(elapsedUs);
    }
    if (now >= end) break;
  }
  const summary = latencySummary(samplesUs);
  const windowMs = performance.now() - measuredAt;
  control.emit('result', {
    count: samplesUs.length,
    bad,
    msgsPerSec: windowMs > 0 ? (samplesUs.length * 1000) / windowMs : undefined,
    p50us: summary?.p50,
    p99us: summary?.p99,
  } satisfies RequestResult);
  await control.next('stop');
  await link.close();
  await system.shutdown?.();
}

export type { Link };
