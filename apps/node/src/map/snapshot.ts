import type { NodeStatus, PeerTraffic } from '../status.js';
import type { PeerLink } from './peer-links.js';
import type { MapTopicInput } from './topics.js';

/** A topic with its subscribers and, where this node publishes or receives it, its event rate. */
export interface MapTopic extends MapTopicInput {
  /** Events a second since the previous snapshot, as published here or as received here; else null. */
  readonly eventsPerSecond: number | null;
}

/** One peer as the map draws it. Only what a viewer on this host may see: no keys, no adverts, no paths. */
export interface MapPeer {
  readonly id: string;
  readonly rttMs: number | null;
  /** Who dialled: `outbound` this node, `inbound` the peer; null when the link predates the map. */
  readonly direction: 'inbound' | 'outbound' | null;
  /** The transport's scheme (`tls`, `quic`, ...), or null when unknown. */
  readonly transport: string | null;
  /** `direct` over a connection of ours, or `relayed` through the node `via` (the relay service's path). */
  readonly path: 'direct' | 'relayed';
  /** The relay of a relayed peer; null for a direct one. */
  readonly via: string | null;
  /** Messages waiting in this peer's send queue. */
  readonly queued: number;
  /** Messages and bytes a second on this link since the previous snapshot (0 on the first). */
  readonly messagesInPerSecond: number;
  readonly messagesOutPerSecond: number;
  readonly bytesInPerSecond: number;
  readonly bytesOutPerSecond: number;
}

/** A domain with its views, when the node runs the domain service. */
export interface MapDomain {
  readonly id: string;
  readonly name: string;
  readonly role: 'member' | 'observer';
  readonly members: number;
  /** The active view: the members this node keeps links to. */
  readonly active: readonly string[];
  /** How many members the passive view holds (kept as candidates, not linked). */
  readonly passive: number;
}

/** What `/map.json` and each server-sent `snapshot` event carry. */
export interface MapSnapshot {
  readonly at: number;
  readonly self: { readonly id: string; readonly name: string | null; readonly uptimeMs: number };
  readonly peers: readonly MapPeer[];
  readonly domains: readonly MapDomain[];
  readonly topics: readonly MapTopic[];
  /** Node-wide figures and their rates per second since the previous snapshot. */
  readonly traffic: {
    readonly sent: number;
    readonly received: number;
    readonly bytesIn: number;
    readonly bytesOut: number;
    readonly sentPerSecond: number;
    readonly receivedPerSecond: number;
    readonly bytesInPerSecond: number;
    readonly bytesOutPerSecond: number;
  };
  /** Each running service's numeric counters (pub/sub topics and events, storage, ...), flattened. */
  readonly services: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The overlay as far as this node knows it: edges between node ids. */
  readonly edges: readonly (readonly [string, string])[];
}

/** Turns successive statuses into snapshots with rates. */
export class MapSnapshots {
  private previous:
    | { at: number; sent: number; received: number; bytesIn: number; bytesOut: number }
    | undefined;

  constructor(
    private readonly status: () => NodeStatus,
    private readonly domains: () => readonly MapDomain[] = () => [],
    private readonly links: (node: string) => PeerLink | undefined = () => undefined,
    private readonly topics: () => readonly MapTopicInput[] = () => [],
  ) {}

  private previousSeq = new Map<string, number>();
  private previousTraffic = new Map<string, PeerTraffic>();

  take(now = Date.now()): MapSnapshot {
    const s = this.status();
    const sent = s.router.counters.sentRemote;
    const received = s.router.counters.receivedRemote;
    const prev = this.previous;
    const seconds = prev ? Math.max((now - prev.at) / 1000, 0.001) : 0;
    const rate = (current: number, before: number | undefined) =>
      prev && before !== undefined ? Math.max(0, (current - before) / seconds) : 0;
    const traffic = {
      sent,
      received,
      bytesIn: s.transport.bytesIn,
      bytesOut: s.transport.bytesOut,
      sentPerSecond: rate(sent, prev?.sent),
      receivedPerSecond: rate(received, prev?.received),
      bytesInPerSecond: rate(s.transport.bytesIn, prev?.bytesIn),
      bytesOutPerSecond: rate(s.transport.bytesOut, prev?.bytesOut),
    };
    this.previous = { at: now, sent, received, bytesIn: traffic.bytesIn, bytesOut: traffic.bytesOut };
    const traffics = new Map<string, PeerTraffic>();
    const peers = s.connections.map((c) => {
      const before = this.previousTraffic.get(c.node);
      if (c.traffic !== undefined) traffics.set(c.node, c.traffic);
      const peerRate = (key: keyof PeerTraffic) =>
        c.traffic === undefined ? 0 : rate(c.traffic[key], before?.[key]);
      return {
        id: c.node,
        rttMs: c.rttMs ?? null,
        direction: this.links(c.node)?.direction ?? null,
        transport: this.links(c.node)?.transport ?? null,
        path: 'direct' as const,
        via: null,
        queued: s.transport.queueDepths[c.node] ?? 0,
        messagesInPerSecond: peerRate('messagesIn'),
        messagesOutPerSecond: peerRate('messagesOut'),
        bytesInPerSecond: peerRate('bytesIn'),
        bytesOutPerSecond: peerRate('bytesOut'),
      };
    });
    this.previousTraffic = traffics;
    // Peers reached through a relay have no connection of ours: no RTT, direction or traffic of their own.
    const relayed: MapPeer[] = Object.entries(s.relayed ?? {}).map(([id, via]) => ({
      id,
      rttMs: null,
      direction: null,
      transport: null,
      path: 'relayed',
      via,
      queued: 0,
      messagesInPerSecond: 0,
      messagesOutPerSecond: 0,
      bytesInPerSecond: 0,
      bytesOutPerSecond: 0,
    }));
    const services: Record<string, Record<string, number>> = {};
    for (const [name, counters] of Object.entries(s.services)) {
      services[name] = Object.fromEntries(numericLeaves(counters));
    }
    const domains = this.domains();
    const seqs = new Map<string, number>();
    const topics = this.topics().map((t) => {
      const before = this.previousSeq.get(t.id);
      if (t.seq !== null) seqs.set(t.id, t.seq);
      const eventsPerSecond = t.seq === null ? null : before === undefined ? 0 : rate(t.seq, before);
      return { ...t, eventsPerSecond };
    });
    this.previousSeq = seqs;
    const edges: Array<readonly [string, string]> = peers.map((p) => [s.id, p.id] as const);
    for (const d of domains) for (const peer of d.active) edges.push([s.id, peer]);
    for (const t of topics) if (t.publisherNode !== s.id) edges.push([s.id, t.publisherNode]);
    for (const r of relayed) edges.push([r.via as string, r.id]);
    return {
      at: now,
      self: { id: s.id, name: s.name ?? null, uptimeMs: s.uptimeMs },
      peers: [...peers, ...relayed],
      domains,
      topics,
      traffic,
      services,
      edges: dedupe(edges),
    };
  }
}

function dedupe(edges: Array<readonly [string, string]>): Array<readonly [string, string]> {
  const seen = new Set<string>();
  return edges.filter(([a, b]) => {
    const key = a < b ? `${a} ${b}` : `${b} ${a}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The numbers in a nested counters object, with dotted paths (`dropped.expired`). */
export function numericLeaves(value: object, prefix = ''): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [key, inner] of Object.entries(value)) {
    if (typeof inner === 'number') out.push([`${prefix}${key}`, inner]);
    else if (inner !== null && typeof inner === 'object')
      out.push(...numericLeaves(inner, `${prefix}${key}.`));
  }
  return out;
}
