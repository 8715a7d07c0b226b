import { KeyPair } from '@netmachine/core';
import type { NetmachineNode } from 'netmachine';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthenticatedFuzzer, anonymousTls, type Outcome, rawTcp } from './fuzz-client.js';
import { FUZZ_KINDS, type FuzzKind, malformedFrame, Rng, type Stage } from './fuzz-frames.js';
import { newSeed, startTarget, stopTarget, type Target, type TargetStats, tlsNode } from './harness.js';

/**
 * The live fuzzer. NM_FUZZ_FRAMES sets the total number of hostile frames (default 100,000), shared
 * out among four cases; NM_FUZZ_SEED replays a run.
 */
const TOTAL = Number(process.env.NM_FUZZ_FRAMES ?? 100_000);
const SEED = Number(process.env.NM_FUZZ_SEED ?? Date.now() % 2 ** 31);
// Authenticated cases cost a full mutual TLS handshake each (a bad frame ends its connection), so the
// bulk of the frames goes to the cheap unauthenticated callers.
const SHARE = { open: 0.04, handshake: 0.02, rawTcp: 0.9, anonymousTls: 0.04 } as const;
/** Hostile connections in flight at once (each authenticated lane has its own key). */
const LANES = 24;
const BATCH = 2_000;

interface CaseReport {
  sent: number;
  outcomes: Record<Outcome, number>;
  kinds: Partial<Record<FuzzKind, number>>;
}

function newReport(): CaseReport {
  return {
    sent: 0,
    outcomes: { closed: 0, 'not-closed': 0, 'dial-failed': 0, 'handshake-refused': 0 },
    kinds: {},
  };
}

let target: Target;
let good: NetmachineNode;
let other: NetmachineNode;
let echoes = 0;
const echoFailures: unknown[] = [];
let traffic: Promise<void> | undefined;
let stopTraffic = false;

/** Legitimate traffic all along: a known peer asks the target, and two good nodes ask each other. */
async function legitimateTraffic(): Promise<void> {
  const client = good.client('legit');
  let seq = 0;
  while (!stopTraffic) {
    seq++;
    const to = seq % 2 === 0 ? { node: target.id, name: 'echo' } : { node: other.id, name: 'echo' };
    try {
      const reply = await client.request(to, seq, { timeoutMs: 30_000 });
      if (reply.body !== seq) throw new Error(`echo ${seq} came back as ${String(reply.body)}`);
      echoes++;
    } catch (error) {
      echoFailures.push(error);
    }
    // Paced: legitimate traffic, not a load generator competing with the fuzzer for the CPU.
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

beforeAll(async () => {
  target = await startTarget({
    seed: newSeed(),
    listen: ['tls://127.0.0.1:0'],
    tls: { handshakeTimeoutMs: 2_000, maxPendingHandshakes: 256 },
  });
  good = await tlsNode();
  other = await tlsNode();
  other.spawn('echo', (m, ctx) => ctx.reply(m, m.body));
  await target.control({ op: 'add-peer', advert: good.advertText, permanent: false });
  await good.addPeer(target.advert, { permanent: true });
  await good.addPeer(other.advertText, { permanent: true });
  await vi.waitFor(() => expect(good.transport.connectedNodes().length, 'the good links').toBe(2), {
    timeout: 90_000,
    interval: 25,
  });
  traffic = legitimateTraffic();
}, 120_000);

afterAll(async () => {
  stopTraffic = true;
  await traffic;
  await good?.stop();
  await other?.stop();
  if (target) await stopTarget(target);
});

describe('live fuzzer against a node process on its TLS port', () => {
  it(`survives ${TOTAL} malformed frames, closes every bad connection, keeps serving`, {
    timeout: 3_600_000,
  }, async () => {
    const rng = new Rng(SEED);
    const skipped = { count: 0 };
    const advertKey = KeyPair.generate();
    const lanes = Array.from({ length: LANES }, () => new AuthenticatedFuzzer(KeyPair.generate()));
    const reports = {
      open: newReport(),
      handshake: newReport(),
      rawTcp: newReport(),
      anonymousTls: newReport(),
    };
    const noCert = {};
    const plan: (keyof typeof reports)[] = [];
    for (const [name, share] of Object.entries(SHARE) as [keyof typeof reports, number][]) {
      for (let i = Math.round(TOTAL * share); i > 0; i--) plan.push(name);
    }
    // Interleave the cases so each batch mixes them.
    for (let i = plan.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [plan[i], plan[j]] = [plan[j] as keyof typeof reports, plan[i] as keyof typeof reports];
    }

    const samples: TargetStats[] = [await target.stats()];
    const started = Date.now();
    let echoesBefore = echoes;
    let batchesWithoutEcho = 0;
    for (let offset = 0; offset < plan.length; offset += BATCH) {
      const batch = plan.slice(offset, offset + BATCH);
      let next = 0;
      await Promise.all(
        lanes.map(async (lane) => {
          while (next < batch.length) {
            const which = batch[next++] as keyof typeof reports;
            const report = reports[which];
            const kind = rng.pick(FUZZ_KINDS);
            const stage: Stage = which === 'open' ? 'open' : 'handshake';
            let outcome: Outcome;
            if (which === 'open' || which === 'handshake') {
              const frame = malformedFrame(rng, kind, stage, advertKey, skipped);
              outcome = await lane.send(target.address, target.id, frame, stage);
            } else if (which === 'rawTcp') {
              // Garbage where the TLS ClientHello belongs: random bytes or bare netmachine frames.
              const bytes =
                rng.next() < 0.5
                  ? rng.bytes(1 + rng.int(600))
                  : malformedFrame(rng, kind, 'handshake', advertKey, skipped);
              outcome = await rawTcp(target.address, bytes);
            } else {
              outcome = await anonymousTls(
                target.address,
                malformedFrame(rng, kind, 'open', advertKey, skipped),
                noCert,
              );
            }
            report.sent++;
            report.outcomes[outcome]++;
            report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
          }
        }),
      );
      samples.push(await target.stats());
      // Legitimate traffic kept flowing during this batch (a count, not a clock).
      if (echoes === echoesBefore) batchesWithoutEcho++;
      echoesBefore = echoes;
    }
    await Promise.all(lanes.map((lane) => lane.close()));
    const final = await target.stats();
    const seconds = (Date.now() - started) / 1000;
    const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
    console.log(
      JSON.stringify(
        {
          seed: SEED,
          frames: plan.length,
          seconds,
          perSecond: Math.round(plan.length / seconds),
          candidatesAcceptedByDecoderAndReplaced: skipped.count,
          reports,
          dialRetries: lanes.reduce((n, lane) => n + lane.dialRetries, 0),
          echoes,
          echoFailures: echoFailures.length,
          batches: samples.length - 1,
          batchesWithoutEcho,
          targetMalformedDrops: final.transport.dropped['malformed-frame'],
          targetHandshakeFailures: final.transport.handshakeFailures,
          targetDropped: final.transport.dropped,
          tls: final.tls,
          rss: samples.map((s) => mib(s.rss)).filter((_, i) => i % 10 === 0 || i === samples.length - 1),
          heapUsed: samples
            .map((s) => mib(s.heapUsed))
            .filter((_, i) => i % 10 === 0 || i === samples.length - 1),
        },
        null,
        1,
      ),
    );

    // The target is alive and answers on its control channel and over the network.
    expect(target.process.exitCode).toBeNull();
    const reply = await good.client('final').request({ node: target.id, name: 'echo' }, 'still here', {
      timeoutMs: 30_000,
    });
    expect(reply.body).toBe('still here');
    // Every hostile connection was closed by the target.
    for (const report of Object.values(reports)) {
      expect(report.outcomes['not-closed']).toBe(0);
      expect(report.outcomes['dial-failed']).toBe(0);
      expect(report.outcomes['handshake-refused']).toBe(0);
      expect(report.outcomes.closed).toBe(report.sent);
    }
    // Each authenticated bad frame was dropped by the engine as malformed (one per connection).
    const authenticated = reports.open.sent + reports.handshake.sent;
    expect(final.transport.dropped['malformed-frame']).toBe(authenticated);
    expect(final.transport.handshakeFailures).toBeGreaterThanOrEqual(reports.handshake.sent);
    // Unauthenticated callers never got past the TLS listener.
    expect(final.tls.inboundAccepted).toBeGreaterThanOrEqual(authenticated);
    expect(final.tls.inboundAccepted).toBeLessThanOrEqual(authenticated + 5);
    expect(final.tls.handshakeFailures + final.tls.handshakeTimeouts).toBeGreaterThanOrEqual(
      reports.rawTcp.sent + reports.anonymousTls.sent,
    );
    // Legitimate traffic: no request failed, and every batch saw replies.
    expect(echoFailures).toEqual([]);
    expect(batchesWithoutEcho).toBe(0);
    // Memory stays bounded: no growth in proportion to the number of hostile connections.
    const warm = samples[Math.min(2, samples.length - 1)] as TargetStats;
    const peakRss = Math.max(...samples.map((s) => s.rss));
    expect(peakRss).toBeLessThan(warm.rss + 256 * 2 ** 20);
    expect(final.heapUsed).toBeLessThan(warm.heapUsed + 96 * 2 ** 20);
    expect(final.transport.connections).toBeLessThanOrEqual(2);
  });
});
