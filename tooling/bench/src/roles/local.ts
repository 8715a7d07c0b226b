import { DeliveryCounter } from '../payload.js';
import type { Control } from '../process/control.js';
import { awaitDeliveries, openSystem, type SystemParams, sendFor } from './common.js';
import type { ReceiverResult } from './unicast.js';

export interface LocalParams extends SystemParams {
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly idleMs: number;
}

/** Sender and receiver in one process: the cost of dispatch alone, no network. */
export async function local(params: LocalParams, control: Control): Promise<void> {
  const system = await openSystem(params);
  const counter = new DeliveryCounter(params.warmupMs);
  const endpoint = await system.listen({ onMessage: (payload) => counter.deliver(payload) });
  const link = await system.connect({ target: endpoint.info });
  control.emit('connected');
  await control.next('go');
  const sent = await sendFor(link, params.warmupMs + params.durationMs);
  await awaitDeliveries(counter, sent, params.idleMs);
  control.emit('result', { sent, ...counter.report() } satisfies ReceiverResult);
  await control.next('stop');
  await link.close();
  await endpoint.close();
  await system.shutdown?.();
}
