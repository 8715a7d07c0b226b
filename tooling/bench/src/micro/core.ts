/**
 * Micro-benchmarks of the message hot paths: the msgpack wire form of an engine message and framing
 * (@netmachine/transport/wire), Ed25519 through node:crypto (and @noble/curves when it is installed,
 * for comparison), and node adverts (@netmachine/core). Not a test: it reports rates, it asserts nothing.
 *
 *   node --conditions=@netmachine/source --import tsx tooling/bench/src/micro/core.ts [--quick]
 */
import { pathToFileURL } from 'node:url';
import {
  type EngineMessage,
  KeyPair,
  pack,
  signMessage,
  signNodeAdvert,
  unpack,
  verifyMessage,
  verifyNodeAdvert,
  verifySignature,
} from '@netmachine/core';
import {
  DEFAULT_MAX_FRAME_SIZE,
  decodeFrameBody,
  decodeWireMessage,
  encodeFrame,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  FrameSlab,
  FrameTag,
  messageToWire,
} from '@netmachine/transport/wire';
import { FULL, type MeasureOptions, type MicroResult, measure, QUICK } from './measure.js';

export type { MicroResult } from './measure.js';

/** A typical request: a key-value put with a 128-byte value, signed, with an expiry. */
function typicalMessage(key: KeyPair, peer: KeyPair): EngineMessage {
  return signMessage(key, {
    id: 123_456,
    src: { node: key.id, name: 'client' },
    dst: { node: peer.id, name: 'kv' },
    replyTo: undefined,
    expiry: Date.now() + 30_000,
    protocol: 'kv/put@1',
    body: { key: 'users/42/profile', value: new Uint8Array(128).fill(7), ifVersion: 17 },
  });
}

/** Frames per FrameDecoder batch, and the chunk size a socket typically delivers. */
const FRAMES_PER_BATCH = 256;
const CHUNK_BYTES = 64 * 1024;

interface NobleEd25519 {
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
}

/** @noble/curves is optional here: compare against it only when it resolves from this package. */
async function loadNoble(): Promise<NobleEd25519 | undefined> {
  const specifier = '@noble/curves/ed25519.js';
  try {
    const module = (await import(specifier)) as { ed25519: NobleEd25519 };
    return module.ed25519;
  } catch {
    return undefined;
  }
}

export async function runCoreMicro(options: { quick?: boolean } = {}): Promise<MicroResult[]> {
  const timing: MeasureOptions = options.quick ? QUICK : FULL;
  const key = KeyPair.generate();
  const peer = KeyPair.generate();
  const message = typicalMessage(key, peer);
  const wire = messageToWire(message);
  const packed = pack(wire);
  const frame = encodeFrame(FrameTag.Message, wire);
  const body = frame.subarray(FRAME_HEADER_BYTES);
  const stream = Buffer.concat(Array.from({ length: FRAMES_PER_BATCH }, () => frame));
  const chunks: Buffer[] = [];
  for (let at = 0; at < stream.length; at += CHUNK_BYTES) chunks.push(stream.subarray(at, at + CHUNK_BYTES));

  const payload = new Uint8Array(packed);
  const signature = key.sign(payload);
  const advertFields = {
    addrs: [
      { url: 'tls://127.0.0.1:7100', weight: 10 },
      { url: 'quic://127.0.0.1:7101', weight: 20 },
    ],
    version: 1,
    created: Date.now(),
    name: 'bench',
  };
  const advert = signNodeAdvert(key, advertFields);

  const results: MicroResult[] = [];
  const run = async (name: string, op: () => unknown, opsPerCall = 1) => {
    results.push(await measure(name, op, timing, opsPerCall));
  };

  await run(`msgpack encode: EngineMessage wire form (${packed.length} B)`, () =>
    pack(messageToWire(message)),
  );
  await run('msgpack decode: EngineMessage wire form (unpack only)', () => unpack(packed));
  await run('msgpack decode + schema check (decodeWireMessage)', () => decodeWireMessage(unpack(packed)));
  await run('encodeFrame: Message frame', () => encodeFrame(FrameTag.Message, wire));
  let frames = 0;
  const decoder = new FrameDecoder(() => {
    frames++;
  });
  await run(
    `FrameDecoder: frames/s from ${CHUNK_BYTES / 1024} KiB chunks`,
    () => {
      for (const chunk of chunks) decoder.push(chunk);
      return frames;
    },
    FRAMES_PER_BATCH,
  );
  await run('decodeFrameBody: Message frame (direct read + schema)', () =>
    decodeFrameBody(FrameTag.Message, body),
  );
  const slab = new FrameSlab();
  await run('FrameSlab.appendMessage: Message frame into the write slab', () => {
    slab.appendMessage(message, DEFAULT_MAX_FRAME_SIZE);
    if (slab.pendingBytes > 60_000) slab.take();
  });
  await run(`Ed25519 sign, node:crypto (${payload.length} B)`, () => key.sign(payload));
  await run(`Ed25519 verify, node:crypto (${payload.length} B)`, () =>
    verifySignature(key.publicKey, payload, signature),
  );
  const noble = await loadNoble();
  if (noble !== undefined) {
    await run(`Ed25519 verify, @noble/curves (${payload.length} B)`, () =>
      noble.verify(signature, payload, key.publicKey),
    );
  }
  await run('signMessage (pack + sign)', () => signMessage(key, message));
  await run('verifyMessage (pack + verify)', () => verifyMessage(message));
  await run('NodeAdvert sign', () => signNodeAdvert(key, advertFields));
  await run('NodeAdvert verify', () => verifyNodeAdvert(advert));
  return results;
}

function formatRate(opsPerSec: number): string {
  if (opsPerSec >= 1e6) return `${(opsPerSec / 1e6).toFixed(2)} M/s`;
  if (opsPerSec >= 1e3) return `${(opsPerSec / 1e3).toFixed(1)} k/s`;
  return `${opsPerSec.toFixed(0)} /s`;
}

export function formatCoreMicroTable(results: readonly MicroResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length), 9);
  const lines = [`${'benchmark'.padEnd(width)}  ${'rate'.padStart(11)}  ${'µs/op'.padStart(9)}  samples`];
  for (const r of results) {
    const micros = r.opsPerSec > 0 ? (1e6 / r.opsPerSec).toFixed(3) : '-';
    lines.push(
      `${r.name.padEnd(width)}  ${formatRate(r.opsPerSec).padStart(11)}  ${micros.padStart(9)}  ${String(r.samples).padStart(7)}`,
    );
  }
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes('--quick');
  const results = await runCoreMicro({ quick });
  console.log(
    `@netmachine/core micro-benchmarks (${quick ? 'quick' : 'full'}; operations per CPU-second, median of samples)`,
  );
  console.log(formatCoreMicroTable(results));
  if (!results.some((r) => r.name.includes('@noble/curves'))) {
    console.log('(@noble/curves is not installed for tooling/bench: its Ed25519 comparison was skipped)');
  }
}
