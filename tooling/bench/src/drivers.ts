import { Child, stopAll } from './process/child.js';
import type { ConnectServerResult } from './roles/connect.js';
import type { RequestResult } from './roles/request.js';
import type { ReceiverResult } from './roles/unicast.js';
import type { VerifyResult } from './roles/verify.js';
import type { Measurement, Settings } from './scenario.js';
import { latencySummary } from './stats.js';
import type { SystemConfig } from './systems/types.js';
import { describeWindow, type HelperProcess, sampleWindow, type WindowSample } from './window-report.js';

/**
 * Parent-side choreography of one run: which worker processes to start, in what order, and how their
 * reports become a Measurement. Every run starts fresh processes and stops them all, even on failure.
 */

export interface SystemSpec {
  readonly system: string;
  readonly config: SystemConfig;
  /** Processes the parent started for the run besides the workers (the nats-server), for CPU accounting. */
  readonly helpers?: readonly HelperProcess[];
}

/** Slack on top of the measured time before a step is declared hung. */
const STEP_TIMEOUT_MS = 60_000;

async function withChildren<T>(
  body: (spawn: (label: string, role: string, params: object) => Child) => Promise<T>,
): Promise<T> {
  const children: Child[] = [];
  try {
    return await body((label, role, params) => {
      const child = Child.start(label, role, params);
      children.push(child);
      return child;
    });
  } finally {
    await stopAll(children);
  }
}

function lossOf(results: readonly ReceiverResult[]): Measurement['loss'] {
  const sent = results.reduce((sum, result) => sum + result.sent, 0);
  const received = results.reduce((sum, result) => sum + result.received, 0);
  const bad = results.reduce((sum, result) => sum + result.bad, 0);
  return received === sent && bad === 0 ? undefined : { sent, received, bad };
}

/**
 * One-way stream(s): `receivers` processes (1 for unicast; N subscribers for fan-out) and one sender
 * process. The rate is measured at each receiver and summed.
 */
export function measureStream(
  fullSpec: SystemSpec,
  settings: Settings,
  options: { receivers?: number; mode?: 'unicast' | 'fanout' } = {},
): Promise<Measurement> {
  const { helpers = [], ...spec } = fullSpec;
  const receivers = options.receivers ?? 1;
  const mode = options.mode ?? 'unicast';
  const verbose = Boolean(process.env.BENCH_VERBOSE);
  return withChildren(async (spawn) => {
    const rx = Array.from({ length: receivers }, (_, i) =>
      spawn(`${spec.system} receiver ${i}`, 'receiver', {
        ...spec,
        mode,
        warmupMs: settings.warmupMs,
        idleMs: settings.idleMs,
      }),
    );
    const infos = await Promise.all(rx.map((child) => child.next<unknown>('ready')));
    const target = mode === 'fanout' ? { targets: infos } : { target: infos[0] };
    const tx = spawn(`${spec.system} sender`, 'sender', {
      ...spec,
      ...target,
      durationMs: settings.warmupMs + settings.durationMs,
    });
    await tx.next('connected');
    const goAt = Date.now();
    tx.send('go');
    // BENCH_VERBOSE: CPU and counters of every process over the window from the end of the sender's
    // warm-up to its last send (the same for every system; the rate's own window is the receivers').
    const children = [tx, ...rx];
    const windowStart: Promise<WindowSample> | undefined = verbose
      ? new Promise((resolve) => setTimeout(resolve, settings.warmupMs)).then(() =>
          sampleWindow(children, helpers),
        )
      : undefined;
    const { sent } = await tx.next<{ sent: number }>(
      'done',
      settings.warmupMs + settings.durationMs + STEP_TIMEOUT_MS,
    );
    if (windowStart !== undefined) {
      const start = await windowStart;
      const end = await sampleWindow(children, helpers, [start.at]);
      const labels = [...children.map((child) => child.label), ...helpers.map((helper) => helper.label)];
      process.stderr.write(`${describeWindow(spec.system, labels, start, end, goAt)}\n`);
    }
    for (const child of rx) child.send('expect', { sent });
    const results = await Promise.all(
      rx.map((child) => child.next<ReceiverResult>('result', STEP_TIMEOUT_MS)),
    );
    const loss = lossOf(results);
    if (loss !== undefined) return { loss };
    const rates = results.map((result) => result.msgsPerSec);
    if (rates.some((rate) => rate === undefined))
      throw new Error('a receiver saw too few messages to measure');
    return { msgsPerSec: rates.reduce((sum: number, rate) => sum + rate!, 0) };
  });
}

/** Sender and receiver in one process (local dispatch). */
export function measureLocal(spec: SystemSpec, settings: Settings): Promise<Measurement> {
  return withChildren(async (spawn) => {
    const child = spawn(`${spec.system} local`, 'local', {
      ...spec,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      idleMs: settings.idleMs,
    });
    await child.next('connected');
    child.send('go');
    const result = await child.next<ReceiverResult>(
      'result',
      settings.warmupMs + settings.durationMs + STEP_TIMEOUT_MS,
    );
    const loss = lossOf([result]);
    if (loss !== undefined) return { loss };
    if (result.msgsPerSec === undefined) throw new Error('too few messages to measure');
    return { msgsPerSec: result.msgsPerSec };
  });
}

/** Sequential request → reply between two processes. */
export function measureRequest(spec: SystemSpec, settings: Settings): Promise<Measurement> {
  return withChildren(async (spawn) => {
    const server = spawn(`${spec.system} echo`, 'echo-server', spec);
    const target = await server.next<unknown>('ready');
    const client = spawn(`${spec.system} client`, 'request-client', {
      ...spec,
      target,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
    });
    await client.next('connected');
    client.send('go');
    const result = await client.next<RequestResult>(
      'result',
      settings.warmupMs + settings.durationMs + STEP_TIMEOUT_MS,
    );
    if (result.bad > 0)
      return { loss: { sent: result.count, received: result.count - result.bad, bad: result.bad } };
    return { msgsPerSec: result.msgsPerSec, p50us: result.p50us, p99us: result.p99us };
  });
}

/** A fresh connection per iteration; the time from starting to connect to the first delivery. */
export function measureConnect(spec: SystemSpec, settings: Settings): Promise<Measurement> {
  return withChildren(async (spawn) => {
    const server = spawn(`${spec.system} server`, 'connect-server', {
      ...spec,
      warmupIterations: settings.connectWarmup,
    });
    const target = await server.next<unknown>('ready');
    const client = spawn(`${spec.system} dialer`, 'connect-client', {
      ...spec,
      target,
      iterations: settings.connectWarmup + settings.connectIterations,
    });
    await client.next('connected');
    client.send('go');
    await client.next('done', STEP_TIMEOUT_MS * 3);
    server.send('report');
    const result = await server.next<ConnectServerResult>('result');
    const expected = settings.connectIterations;
    if (result.bad > 0 || result.latenciesUs.length !== expected) {
      return { loss: { sent: expected, received: result.latenciesUs.length, bad: result.bad } };
    }
    const summary = latencySummary(result.latenciesUs);
    return { p50us: summary?.p50, p99us: summary?.p99 };
  });
}

/** The ed25519-verify peer: one process signing, one verifying, side by side. */
export function measureVerify(settings: Settings): Promise<Measurement> {
  return withChildren(async (spawn) => {
    const params = { warmupMs: settings.warmupMs, durationMs: settings.durationMs };
    const verifier = spawn('ed25519 verifier', 'verifier', params);
    const signer = spawn('ed25519 signer', 'signer', params);
    await Promise.all([verifier.next('connected'), signer.next('connected')]);
    verifier.send('go');
    signer.send('go');
    const result = await verifier.next<VerifyResult>(
      'result',
      settings.warmupMs + settings.durationMs + STEP_TIMEOUT_MS,
    );
    if (result.bad > 0)
      return { loss: { sent: result.count + result.bad, received: result.count, bad: result.bad } };
    return { msgsPerSec: result.msgsPerSec };
  });
}
