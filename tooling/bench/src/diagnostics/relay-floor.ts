/**
 * The floor under `relayed-request` on this machine: sequential round trips over plain node:tls,
 * direct (client → echo, two processes) and through a middle process that only reads each
 * length-prefixed frame from one TLS socket and writes it to the other (client → middle → echo,
 * three processes), with and without the AEAD a RelayMessage costs at its two ends (AES-256-GCM
 * from node:crypto, a 512-byte bucket, a cipher object per message, as `RelaySealer` and
 * `RelayOpener` make them by default). No netmachine code runs in these chains: whatever they take,
 * a relay built on node:tls over loopback takes at least that. Chains alternate with each other within a round, so
 * their ratios share one window of the machine's load.
 * Usage: `pnpm bench:relay-floor [-- --requests 20000 --rounds 3]`.
 */

import { execFile } from 'node:child_process';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type TLSSocket, connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FrameSplitter, frame, makePayload, payloadSeq } from '../payload.js';
import { type PemCertificate, selfSignedPem } from '../systems/certificate.js';
import { cpuMicros, type LoopChild, percentile, spawnLoopChild } from './loop-child.js';

const WARMUP = 2000;
/** This file's extension: the sibling script runs the same way (from source, or built). */
const extname = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** A RelayMessage's header (version … counter) and tag, and the bucket a lone request fills. */
const HEADER_BYTES = 122;
const TAG_BYTES = 16;
const BUCKET_BYTES = 512;
/** The key and nonce prefix both ends share (a session key, as after a relay session's set-up). */
const SESSION_KEY = Buffer.alloc(32, 7);
const NONCE_PREFIX = Buffer.alloc(4, 9);

type Chain = 'direct' | 'chain' | 'chain-sealed';
const CHAINS: readonly Chain[] = ['direct', 'chain', 'chain-sealed'];
/** netmachine's own round trips, from `request-loop`, in the same alternation. */
const NETMACHINE = ['netmachine', 'netmachine-relayed'] as const;

type FromChild =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'done'; readonly latenciesUs: number[]; readonly bad: number; readonly cpuUs: number }
  | { readonly type: 'report'; readonly cpuUs: number };

/**
 * CPU time (user + system) from the `WARMUP + 1`-th frame a process sees on, sent to the parent when
 * it asks: the steadier figure beside a latency, as `request-loop` gives it.
 */
function cpuFromWarmUp(): () => void {
  let seen = 0;
  let atWarm = 0;
  process.once('message', () => {
    process.send?.({ type: 'report', cpuUs: cpuMicros() - atWarm } satisfies FromChild);
  });
  return () => {
    if (++seen === WARMUP + 1) atWarm = cpuMicros();
  };
}

function nonceOf(counter: number): Buffer {
  const nonce = Buffer.alloc(12);
  NONCE_PREFIX.copy(nonce, 0);
  nonce.writeUInt32BE(counter, 8);
  return nonce;
}

/**
 * One end of a sealed session, as `RelaySealer` / `RelayOpener` keep it by default: each counter's
 * cipher is made when its message is sealed or opened, and used once. (Made ahead after the write,
 * it delays the process that write woke: on this machine the woken process often waits for the
 * writer's turn to end, and the chain's p50 came out 147 µs against 121 µs without.)
 */
class SealedEnd {
  #sendCounter = 0;
  readonly #plaintext = Buffer.alloc(BUCKET_BYTES - HEADER_BYTES - TAG_BYTES);
  readonly #header = randomBytes(HEADER_BYTES);

  seal(payload: Uint8Array): Buffer {
    const counter = this.#sendCounter++;
    const out = Buffer.allocUnsafe(BUCKET_BYTES);
    this.#header.copy(out, 0);
    out.writeUInt32BE(counter, HEADER_BYTES - 4);
    const cipher = createCipheriv('aes-256-gcm', SESSION_KEY, nonceOf(counter), { authTagLength: TAG_BYTES });
    cipher.setAAD(out.subarray(0, HEADER_BYTES), { plaintextLength: this.#plaintext.length });
    this.#plaintext.writeUInt32BE(payload.length, 0);
    this.#plaintext.set(payload, 4);
    this.#plaintext.fill(0, 4 + payload.length);
    cipher.update(this.#plaintext).copy(out, HEADER_BYTES);
    cipher.final();
    cipher.getAuthTag().copy(out, BUCKET_BYTES - TAG_BYTES);
    return out;
  }

  open(sealed: Uint8Array): Buffer {
    const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const counter = data.readUInt32BE(HEADER_BYTES - 4);
    const decipher = createDecipheriv('aes-256-gcm', SESSION_KEY, nonceOf(counter), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(data.subarray(0, HEADER_BYTES), {
      plaintextLength: data.length - HEADER_BYTES - TAG_BYTES,
    });
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    const plaintext = decipher.update(data.subarray(HEADER_BYTES, data.length - TAG_BYTES));
    decipher.final();
    return plaintext.subarray(4, 4 + plaintext.readUInt32BE(0));
  }
}

async function listen(pem: PemCertificate, onSocket: (socket: TLSSocket) => void): Promise<number> {
  const server = createServer(
    { cert: pem.certPem, key: pem.keyPem, requestCert: true, rejectUnauthorized: false },
    (socket) => {
      socket.setNoDelay(true);
      onSocket(socket);
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function dial(pem: PemCertificate, port: number): Promise<TLSSocket> {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port,
    cert: pem.certPem,
    key: pem.keyPem,
    rejectUnauthorized: false,
  });
  socket.setNoDelay(true);
  await once(socket, 'secureConnect');
  return socket;
}

/** C: answers each frame with the same payload (opened and sealed again when `sealed`). */
async function echo(sealed: boolean): Promise<void> {
  const pem = await selfSignedPem();
  const end = new SealedEnd();
  const counted = cpuFromWarmUp();
  const port = await listen(pem, (socket) => {
    const splitter = new FrameSplitter((body) => {
      counted();
      socket.write(frame(sealed ? end.seal(end.open(body)) : body));
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
  });
  process.send?.({ type: 'ready', port } satisfies FromChild);
}

/** B: passes each frame from the client on to the echo and each answer back, one write per frame. */
async function middle(echoPort: number): Promise<void> {
  const pem = await selfSignedPem();
  const counted = cpuFromWarmUp();
  const port = await listen(pem, (client) => {
    // Until the onward link is up, the client's bytes wait in its socket (no 'data' listener yet).
    void dial(pem, echoPort).then((server) => {
      const toServer = new FrameSplitter((body) => {
        counted();
        server.write(frame(body));
      });
      const toClient = new FrameSplitter((body) => client.write(frame(body)));
      client.on('data', (chunk: Buffer) => toServer.push(chunk));
      server.on('data', (chunk: Buffer) => toClient.push(chunk));
    });
  });
  process.send?.({ type: 'ready', port } satisfies FromChild);
}

/** A: sequential round trips, each timed from the send to the answer. */
async function client(port: number, requests: number, sealed: boolean): Promise<void> {
  const pem = await selfSignedPem();
  const socket = await dial(pem, port);
  const end = new SealedEnd();
  let answer: ((body: Uint8Array) => void) | undefined;
  const splitter = new FrameSplitter((body) => answer?.(sealed ? end.open(body) : body));
  socket.on('data', (chunk: Buffer) => splitter.push(chunk));
  const latenciesUs: number[] = [];
  let bad = 0;
  let cpuAtWarm = 0;
  for (let seq = 0; seq < WARMUP + requests; seq++) {
    if (seq === WARMUP) cpuAtWarm = cpuMicros();
    const startedAt = process.hrtime.bigint();
    const reply = await new Promise<Uint8Array>((resolve) => {
      answer = resolve;
      const payload = makePayload(seq);
      socket.write(frame(sealed ? end.seal(payload) : payload));
    });
    const elapsedUs = Number(process.hrtime.bigint() - startedAt) / 1000;
    if (payloadSeq(reply) !== seq) bad++;
    if (seq >= WARMUP) latenciesUs.push(elapsedUs);
  }
  process.send?.({ type: 'done', latenciesUs, bad, cpuUs: cpuMicros() - cpuAtWarm } satisfies FromChild);
  socket.destroy();
  process.disconnect?.();
}

function spawn(args: string[]): LoopChild<FromChild> {
  return spawnLoopChild<FromChild>(fileURLToPath(import.meta.url), args, process.execArgv);
}

async function ready(child: LoopChild<FromChild>): Promise<number> {
  const message = await child.next();
  if (message.type !== 'ready') throw new Error('a chain process did not start');
  return message.port;
}

async function run(chain: Chain, requests: number): Promise<string> {
  const sealed = chain === 'chain-sealed';
  const server = spawn(['echo', String(sealed)]);
  const children = [server];
  try {
    let port = await ready(server);
    if (chain !== 'direct') {
      const relay = spawn(['middle', String(port)]);
      children.push(relay);
      port = await ready(relay);
    }
    const asker = spawn(['client', String(port), String(requests), String(sealed)]);
    children.push(asker);
    const done = await asker.next();
    if (done.type !== 'done') throw new Error('the client did not finish');
    // CPU per round trip in each process: the client, the middle (if any), the echo.
    const cpu = [(done.cpuUs / requests).toFixed(1)];
    const others = chain === 'direct' ? [server] : [children[1] as LoopChild<FromChild>, server];
    for (const other of others) {
      other.child.send('report');
      const report = await other.next();
      if (report.type === 'report') cpu.push((report.cpuUs / requests).toFixed(1));
    }
    const sorted = [...done.latenciesUs].sort((a, b) => a - b);
    const bad = done.bad > 0 ? `  BAD ${done.bad}` : '';
    return `${chain.padEnd(12)} p10 ${percentile(sorted, 0.1).toFixed(1)} µs  p50 ${percentile(sorted, 0.5).toFixed(1)} µs  CPU per round trip: ${cpu.join(' / ')} µs${bad}`;
  } finally {
    for (const child of children) child.child.kill();
  }
}

/** One round of `request-loop` for `system`, in a process of its own; its result line. */
async function runNetmachine(system: string, requests: number): Promise<string> {
  const script = fileURLToPath(new URL('./request-loop.ts', import.meta.url)).replace(/\.ts$/, extname);
  const child = execFile(process.execPath, [
    ...process.execArgv,
    script,
    '--system',
    system,
    '--requests',
    String(requests),
    '--rounds',
    '1',
  ]);
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`request-loop ${system} exited ${code}`);
  return (out.trim().split('\n').pop() ?? '').replace(/^round 1\s+/, '');
}

async function main(): Promise<void> {
  const [role, ...rest] = process.argv.slice(2);
  if (role === 'echo') return echo(rest[0] === 'true');
  if (role === 'middle') return middle(Number(rest[0]));
  if (role === 'client') return client(Number(rest[0]), Number(rest[1]), rest[2] === 'true');
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((arg) => arg !== '--'),
    options: { requests: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } },
  });
  const requests = Number.parseInt(values.requests, 10);
  const rounds = Number.parseInt(values.rounds, 10);
  for (let round = 1; round <= rounds; round++) {
    for (const chain of CHAINS) console.log(`round ${round}  ${await run(chain, requests)}`);
    for (const system of NETMACHINE) console.log(`round ${round}  ${await runNetmachine(system, requests)}`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
