import { DeliveryCounter, type DeliveryReport } from '../payload.js';
import type { Control } from '../process/control.js';
import { setProbe } from '../process/probe.js';
import { awaitDeliveries, openSystem, type SystemParams, sendFor } from './common.js';

export interface ReceiverParams extends SystemParams {
  readonly warmupMs: number;
  /** Give up waiting for the rest after this long without a delivery. */
  readonly idleMs: number;
  /** `fanout`: subscribe to the benchmark topic instead of listening for a direct connection. */
  readonly mode?: 'unicast' | 'fanout';
}

export interface ReceiverResult extends DeliveryReport {
  readonly sent: number;
}

/** Listens, reports `ready` with its address, counts and checks deliveries, reports `result`. */
export async function receiver(params: ReceiverParams, control: Control): Promise<void> {
  const system = await openSystem(params);
  const counter = new DeliveryCounter(params.warmupMs);
  const onMessage = (payload: Uint8Array): void => counter.deliver(payload);
  setProbe('deliveries', ({ times }) => ({
    received: counter.received,
    firstAt: counter.firstAt,
    ...(times !== undefined ? { receivedAt: times.map((at) => counter.receivedAt(at)) } : {}),
  }));
  const endpoint =
    params.mode === 'fanout' ? await system.subscribe!({ onMessage }) : await system.listen({ onMessage });
  control.emit('ready', endpoint.info);
  const cpuBefore = process.cpuUsage();
  const { sent } = await control.next<{ sent: number }>('expect');
  await awaitDeliveries(counter, sent, params.idleMs);
  reportCpu('receiver', cpuBefore, counter.received);
  control.emit('result', { sent, ...counter.report() } satisfies ReceiverResult);
  await control.next('stop');
  await endpoint.close();
  await system.shutdown?.();
}

export interface SenderParams extends SystemParams {
  readonly durationMs: number;
  /** The receiver's `info` (unicast), or every subscriber's (fan-out). */
  readonly target?: unknown;
  readonly targets?: readonly unknown[];
}

/** Connects, reports `connected`, waits for `go`, sends for the duration, reports `done`. */
export async function sender(params: SenderParams, control: Control): Promise<void> {
  const system = await openSystem(params);
  const link =
    params.targets !== undefined
      ? await system.publisher!(params.targets)
      : await system.connect({ target: params.target });
  control.emit('connected');
  await control.next('go');
  const cpuBefore = process.cpuUsage();
  const sent = await sendFor(link, params.durationMs);
  reportCpu('sender', cpuBefore, sent);
  control.emit('done', { sent });
  await control.next('stop');
  await link.close();
  await system.shutdown?.();
}

/** With BENCH_VERBOSE: the CPU time this process spent per message while the run's messages flowed. */
function reportCpu(role: string, before: NodeJS.CpuUsage, messages: number): void {
  if (!process.env.BENCH_VERBOSE || messages === 0) return;
  const used = process.cpuUsage(before);
  const cpuMs = (used.user + used.system) / 1000;
  process.stderr.write(
    `${JSON.stringify({ [role]: { messages, cpuMs: Math.round(cpuMs), cpuUsPerMessage: +((1000 * cpuMs) / messages).toFixed(2) } })}\n`,
  );
}
