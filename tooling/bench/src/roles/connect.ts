import { makePayload, payloadIntact, payloadSentAtNs, payloadSeq } from '../payload.js';
import type { Control } from '../process/control.js';
import { openSystem, type SystemParams, within } from './common.js';

/**
 * The connect scenario. The client stamps each first message with the monotonic clock read just before
 * it began to connect; the server reads the same clock (CLOCK_MONOTONIC is shared by the processes of
 * one machine) when the message is delivered. The difference is connect-to-first-delivery.
 */
export interface ConnectServerResult {
  readonly latenciesUs: number[];
  readonly bad: number;
}

export async function connectServer(
  params: SystemParams & { warmupIterations: number },
  control: Control,
): Promise<void> {
  const system = await openSystem(params);
  const latenciesUs: number[] = [];
  let bad = 0;
  const endpoint = await system.listen({
    echo: true,
    onMessage: (payload) => {
      const now = process.hrtime.bigint();
      if (!payloadIntact(payload)) {
        bad++;
        return;
      }
      if (payloadSeq(payload) >= params.warmupIterations) {
        latenciesUs.push(Number(now - payloadSentAtNs(payload)) / 1000);
      }
    },
  });
  control.emit('ready', endpoint.info);
  await control.next('report');
  control.emit('result', { latenciesUs, bad } satisfies ConnectServerResult);
  await control.next('stop');
  await endpoint.close();
  await system.shutdown?.();
}

const ITERATION_TIMEOUT_MS = 15_000;

/** Connects afresh for every iteration, sends one message, waits for its echo, closes. */
export async function connectClient(
  params: SystemParams & { target: unknown; iterations: number },
  control: Control,
): Promise<void> {
  const system = await openSystem(params);
  control.emit('connected');
  await control.next('go');
  for (let seq = 0; seq < params.iterations; seq++) {
    let echoed!: () => void;
    const echo = new Promise<void>((resolve) => {
      echoed = resolve;
    });
    const startedAt = process.hrtime.bigint();
    const link = await within(
      system.connect({ target: params.target, onMessage: () => echoed() }),
      ITERATION_TIMEOUT_MS,
      `connect ${seq}`,
    );
    const first = makePayload(seq, startedAt);
    // A system with its own request/reply uses it; the others send and wait for the echo.
    if (link.request !== undefined) await within(link.request(first), ITERATION_TIMEOUT_MS, `reply ${seq}`);
    else {
      link.send(first);
      await within(echo, ITERATION_TIMEOUT_MS, `echo of first message ${seq}`);
    }
    await link.close();
  }
  control.emit('done', { iterations: params.iterations });
  await control.next('stop');
  await system.shutdown?.();
}
