import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { makePayload } from '../payload.js';
import type { Control } from '../process/control.js';

/**
 * The `ed25519-verify` peer of `signed-unicast`: with the same two busy processes as a signed stream,
 * one signs 200-byte payloads as fast as it can while the other verifies signed payloads. The
 * verifier's rate is the ceiling for a stream in which every message is checked.
 */
export interface VerifyParams {
  readonly warmupMs: number;
  readonly durationMs: number;
}

export interface VerifyResult {
  readonly count: number;
  readonly bad: number;
  readonly msgsPerSec: number | undefined;
}

const SAMPLES = 1024;

export async function verifier(params: VerifyParams, control: Control): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const payloads = Array.from({ length: SAMPLES }, (_, seq) => makePayload(seq));
  const signatures = payloads.map((payload) => sign(null, payload, privateKey));
  control.emit('connected');
  await control.next('go');
  const start = performance.now();
  const measureFrom = start + params.warmupMs;
  const end = measureFrom + params.durationMs;
  let count = 0;
  let bad = 0;
  let measuredAt = 0;
  for (let i = 0; ; i++) {
    const index = i % SAMPLES;
    if (verify(null, payloads[index]!, publicKey, signatures[index]!)) {
      if (measuredAt !== 0) count++;
    } else bad++;
    if ((i & 63) === 0) {
      const now = performance.now();
      if (measuredAt === 0 && now >= measureFrom) measuredAt = now;
      if (now >= end) break;
    }
  }
  const windowMs = performance.now() - measuredAt;
  control.emit('result', {
    count,
    bad,
    msgsPerSec: windowMs > 0 ? (count * 1000) / windowMs : undefined,
  } satisfies VerifyResult);
  await control.next('stop');
}

/** Keeps the other core as busy as a signing sender would. */
export async function signer(params: VerifyParams, control: Control): Promise<void> {
  const { privateKey } = generateKeyPairSync('ed25519');
  control.emit('connected');
  await control.next('go');
  const end = performance.now() + params.warmupMs + params.durationMs;
  let seq = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 64; i++) sign(null, makePayload(seq++), privateKey);
  }
  control.emit('done', { sent: seq });
  await control.next('stop');
}
