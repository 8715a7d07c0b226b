import { randomBytes } from 'node:crypto';
import { measureKind, type RunKind } from './peers.js';
import { withRelayProcess } from './relay/relay-process.js';
import type { Contender } from './scenario.js';

/**
 * netmachine as a contender. The packages are probed before the scenario runs: a subject whose
 * packages do not yet export what it needs is reported as missing, never measured with a stand-in.
 */

interface Requirement {
  readonly pkg: string;
  readonly exports: readonly string[];
}

const ROUTER: Requirement = { pkg: '@netmachine/router', exports: ['Router'] };
const TRANSPORT: Requirement = { pkg: '@netmachine/transport', exports: ['TransportEngine'] };
const TLS: Requirement = { pkg: '@netmachine/transport-tls', exports: ['tls'] };
const QUIC: Requirement = { pkg: '@netmachine/transport-quic', exports: ['quic'] };
const PUBSUB: Requirement = { pkg: '@netmachine/pubsub', exports: ['PubSubEngine'] };
const IDENTITY: Requirement = { pkg: '@netmachine/identity-store', exports: ['memoryIdentityStore'] };

async function missingOf(requirements: readonly Requirement[]): Promise<string | undefined> {
  for (const { pkg, exports } of requirements) {
    let module: Record<string, unknown>;
    try {
      module = (await import(pkg)) as Record<string, unknown>;
    } catch (error) {
      return `package ${pkg} missing (${(error as Error).message.split('\n')[0]})`;
    }
    const absent = exports.filter((name) => module[name] === undefined);
    if (absent.length > 0) return `package ${pkg} missing (no ${absent.join(', ')} export yet)`;
  }
  return undefined;
}

function transportRequirements(transport: string): Requirement[] {
  // A remote node also runs the pubsub engine (as the node app does), so it is required too.
  return [ROUTER, IDENTITY, TRANSPORT, transport === 'quic' ? QUIC : TLS, PUBSUB];
}

const RELAY: Requirement = { pkg: '@netmachine/relay', exports: ['relay'] };

export function netmachine(
  kind: RunKind,
  options: { transport?: 'tls' | 'quic'; strict?: boolean; relayed?: boolean } = {},
): Contender {
  const transport = kind === 'local' ? undefined : (options.transport ?? 'tls');
  const requirements =
    kind === 'local' ? [ROUTER] : [...transportRequirements(transport!), ...(options.relayed ? [RELAY] : [])];
  const config = { transport, strict: options.strict ?? false };
  // Fan-out: every process of a run derives the same topic from one seed chosen for that run.
  const configFor = () =>
    kind === 'fanout' || kind === 'tree'
      ? { ...config, tree: kind === 'tree', shared: { topicSeed: randomBytes(32).toString('hex') } }
      : config;
  return {
    system: 'netmachine',
    ...(transport !== undefined ? { transport } : {}),
    missing: () => missingOf(requirements),
    measure: (settings) =>
      options.relayed
        ? withRelayProcess((relayAdvert) =>
            measureKind(kind, { system: 'netmachine', config: { ...configFor(), relayAdvert } }, settings),
          )
        : measureKind(kind, { system: 'netmachine', config: configFor() }, settings),
  };
}
