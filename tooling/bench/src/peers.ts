import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  measureConnect,
  measureLocal,
  measureRequest,
  measureStream,
  measureVerify,
  type SystemSpec,
} from './drivers.js';
import { withNatsServer } from './nats-server.js';
import { withTlsForwarder } from './relay/tls-forwarder.js';
import type { Contender, Measurement, Settings } from './scenario.js';

/** The kinds of run a contender can take part in (one driver each). */
export type RunKind = 'local' | 'stream' | 'request' | 'connect' | 'fanout' | 'tree';

export function measureKind(kind: RunKind, spec: SystemSpec, settings: Settings): Promise<Measurement> {
  switch (kind) {
    case 'local':
      return measureLocal(spec, settings);
    case 'stream':
      return measureStream(spec, settings);
    case 'request':
      return measureRequest(spec, settings);
    case 'connect':
      return measureConnect(spec, settings);
    case 'fanout':
      return measureStream(spec, settings, { receivers: settings.fanoutSubscribers, mode: 'fanout' });
    case 'tree':
      return measureStream(spec, settings, { receivers: settings.treeSubscribers, mode: 'fanout' });
  }
}

/** A peer that needs nothing set up by the parent. */
export function peer(system: string, kind: RunKind): Contender {
  return { system, measure: (settings) => measureKind(kind, { system, config: {} }, settings) };
}

/**
 * `raw-tls` through a plain TLS forwarder in a third process (A → B → C): the floor under a relay
 * over node:tls (the relayed scenarios' raw peer). `sealed`: `raw-tls-sealed`, every message also
 * sealed end to end with AES-256-GCM, the floor under a relay that keeps content from the middle.
 */
export function rawTlsRelayedPeer(kind: RunKind, options: { sealed?: boolean } = {}): Contender {
  const system = options.sealed ? 'raw-tls-sealed' : 'raw-tls';
  return {
    system,
    measure: (settings) =>
      withTlsForwarder((via, helper) => {
        const config = options.sealed ? { via, sealKey: randomBytes(32).toString('hex') } : { via };
        return measureKind(kind, { system, config, helpers: [helper] }, settings);
      }),
  };
}

let natsMissing: Promise<string | undefined> | undefined;

/** The NATS peer: a fresh nats-server for every run, the client in the worker processes. */
export function natsPeer(kind: RunKind): Contender {
  return {
    system: 'nats',
    missing: () => {
      natsMissing ??= Promise.resolve().then(() => {
        try {
          execFileSync(process.env.NATS_SERVER ?? 'nats-server', ['--version'], { stdio: 'ignore' });
          return undefined;
        } catch {
          return 'nats-server binary not found on PATH (set NATS_SERVER)';
        }
      });
      return natsMissing;
    },
    measure: (settings) =>
      withNatsServer((url, pid) =>
        measureKind(
          kind,
          { system: 'nats', config: { shared: { url } }, helpers: [{ label: 'nats-server', pid }] },
          settings,
        ),
      ),
  };
}

export const ed25519VerifyPeer: Contender = {
  system: 'ed25519-verify',
  measure: (settings) => measureVerify(settings),
};
