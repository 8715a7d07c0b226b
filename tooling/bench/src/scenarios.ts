import { storageFetchRawTls, storageFetchSubject } from './bulk/storage-fetch.js';
import { natsEnginePoolOfOne, natsEnginePoolOfTwo, natsEngineRequest } from './nats-engine/scenario.js';
import { ed25519VerifyPeer, natsPeer, peer, rawTlsRelayedPeer } from './peers.js';
import type { Contender, Scenario } from './scenario.js';
import { netmachine } from './subjects.js';

/** A contender under another name: netmachine's direct path as the peer of its relayed path. */
function named(system: string, contender: Contender): Contender {
  return { ...contender, system };
}

/** The scenarios of BENCHMARKS.md; the names are fixed (tools read them). */
export const scenarios: readonly Scenario[] = [
  {
    name: 'local-unicast',
    description: 'engine → engine on one node, 200 B bodies, messages/s delivered',
    metric: 'throughput',
    bars: [{ peer: 'eventemitter', ratio: 0.5 }],
    subjects: [netmachine('local')],
    peers: [peer('eventemitter', 'local')],
  },
  {
    name: 'remote-unicast',
    description: 'two nodes in two processes over loopback, 200 B one-way, counted at the receiver',
    metric: 'throughput',
    bars: [
      { peer: 'nats', ratio: 2.0 },
      { peer: 'libp2p', ratio: 5 },
      { peer: 'raw-tls-batched', ratio: 0.6 },
    ],
    subjects: [netmachine('stream', { transport: 'tls' })],
    peers: [
      natsPeer('stream'),
      peer('libp2p', 'stream'),
      peer('raw-tls', 'stream'),
      peer('raw-tls-batched', 'stream'),
    ],
  },
  {
    name: 'remote-request',
    description: 'sequential request → response between two processes; round trip p50 / p99',
    metric: 'latency',
    latencyUnit: 'us',
    bars: [
      { peer: 'nats', ratio: 0.6 },
      { peer: 'raw-tls', ratio: 1.2 },
    ],
    subjects: [netmachine('request', { transport: 'tls' })],
    peers: [natsPeer('request'), peer('libp2p', 'request'), peer('raw-tls', 'request')],
  },
  {
    name: 'relayed-unicast',
    description: 'remote-unicast through a relay in a third process (A → B → C), 200 B sealed end to end',
    metric: 'throughput',
    bars: [{ peer: 'direct', ratio: 0.4 }],
    subjects: [netmachine('stream', { transport: 'tls', relayed: true })],
    peers: [named('direct', netmachine('stream', { transport: 'tls' })), rawTlsRelayedPeer('stream')],
  },
  {
    name: 'relayed-request',
    description: 'remote-request through a relay in a third process; round trip p50 / p99',
    metric: 'latency',
    latencyUnit: 'us',
    bars: [{ peer: 'direct', ratio: 2.5 }],
    subjects: [netmachine('request', { transport: 'tls', relayed: true })],
    peers: [
      named('direct', netmachine('request', { transport: 'tls' })),
      rawTlsRelayedPeer('request'),
      rawTlsRelayedPeer('request', { sealed: true }),
    ],
  },
  {
    name: 'pubsub-fanout',
    description: 'one publisher, 4 subscriber processes, 200 B, deliveries/s summed over subscribers',
    metric: 'throughput',
    bars: [{ peer: 'nats', ratio: 1.0 }],
    subjects: [netmachine('fanout', { transport: 'tls' })],
    peers: [natsPeer('fanout')],
  },
  {
    name: 'pubsub-tree',
    description:
      'one publisher, 8 subscriber processes in one domain (multi-hop broadcast tree, every event authenticated end to end), 200 B, deliveries/s summed',
    metric: 'throughput',
    bars: [{ peer: 'nats', ratio: 1.0 }],
    subjects: [netmachine('tree', { transport: 'tls' })],
    peers: [natsPeer('tree')],
  },
  {
    name: 'signed-unicast',
    description: 'remote-unicast in strict mode: every message signed and verified',
    metric: 'throughput',
    bars: [{ peer: 'ed25519-verify', ratio: 1.3 }],
    subjects: [netmachine('stream', { transport: 'tls', strict: true })],
    peers: [ed25519VerifyPeer],
  },
  {
    name: 'quic-unicast',
    description: 'remote-unicast over QUIC',
    metric: 'throughput',
    bars: [{ peer: 'raw-quic', ratio: 10 }],
    subjects: [netmachine('stream', { transport: 'quic' })],
    peers: [peer('raw-quic', 'stream')],
  },
  {
    name: 'connect',
    description: 'time from connect to the first delivered message, p50',
    metric: 'latency',
    latencyUnit: 'ms',
    bars: [
      { peer: 'libp2p', ratio: 0.5 },
      { peer: 'raw-tls', ratio: 1.2 },
    ],
    subjects: [netmachine('connect', { transport: 'tls' })],
    peers: [natsPeer('connect'), peer('libp2p', 'connect'), peer('raw-tls', 'connect')],
  },
  {
    name: 'storage-fetch',
    description: 'a 64 MiB object fetched and verified between two processes, MB/s',
    metric: 'bandwidth',
    bars: [{ peer: 'raw-tls', ratio: 0.6 }],
    subjects: [storageFetchSubject],
    peers: [storageFetchRawTls],
  },
  {
    name: 'nats-engine-request',
    description: 'sequential request → reply from a node to an engine in another process via NATS, p50 / p99',
    metric: 'latency',
    latencyUnit: 'us',
    bars: [{ peer: 'nats', ratio: 1.3 }],
    subjects: [natsEngineRequest],
    peers: [natsPeer('request')],
  },
  {
    name: 'nats-engine-pool',
    description:
      'engine pool via NATS, 64 requests in flight, 2000 SHA-256 rounds each: 2 processes vs 1, replies/s',
    metric: 'throughput',
    bars: [{ peer: 'pool-of-1', ratio: 1.3 }],
    subjects: [natsEnginePoolOfTwo],
    peers: [natsEnginePoolOfOne],
  },
];
