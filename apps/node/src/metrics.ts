import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@netmachine/core';
import type { DomainServiceCounters } from '@netmachine/domain';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { MapEndpoint } from './map/map-endpoint.js';
import type { PeerLink } from './map/peer-links.js';
import { type MapDomain, MapSnapshots, numericLeaves } from './map/snapshot.js';
import type { MapTopicInput } from './map/topics.js';
import type { NodeStatus } from './status.js';

export interface MetricsServerOptions {
  /** Serve the map page (`/map`, `/map.json`, `/map/events`); default true. */
  map?: boolean;
  /** The node's domains with their views, when it runs a domain service. */
  domains?: () => readonly MapDomain[];
  /** Each connected peer's link direction and transport (see PeerLinks). */
  links?: (node: string) => PeerLink | undefined;
  /** The topics the node knows (see pubsubTopics). */
  topics?: () => readonly MapTopicInput[];
  /** Time between two live map updates (ms); default 1000. */
  mapIntervalMs?: number;
}

/**
 * The Prometheus endpoint, loopback only. Every metric is computed at scrape time from the node's
 * counters, so the hot path pays nothing for metrics beyond incrementing plain numbers.
 */
export class MetricsServer {
  readonly registry = new Registry();
  private server: Server | undefined;
  private started = Date.now();
  private readonly map: MapEndpoint | undefined;

  constructor(
    private readonly listen: string,
    private readonly status: () => NodeStatus,
    private readonly logger: Logger,
    options: MetricsServerOptions = {},
  ) {
    if (options.map !== false) {
      this.map = new MapEndpoint(new MapSnapshots(status, options.domains, options.links, options.topics), {
        ...(options.mapIntervalMs ? { intervalMs: options.mapIntervalMs } : {}),
      });
    }
    collectDefaultMetrics({ register: this.registry, prefix: 'netmachine_process_' });
    this.define();
  }

  /** The bound `host:port` once started. */
  address = '';

  async start(): Promise<void> {
    const { host, port } = splitHostPort(this.listen);
    const server = createServer((req, res) => {
      if (this.map?.handle(req, res)) return;
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true, uptimeMs: Date.now() - this.started }));
        return;
      }
      if (req.url === '/metrics') {
        this.registry.metrics().then(
          (text) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(text);
          },
          (error: unknown) => {
            this.logger.warn({ err: error }, 'metrics collection failed');
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      res.writeHead(404);
      res.end();
    });
    server.headersTimeout = 5_000;
    server.requestTimeout = 10_000;
    server.maxConnections = 32;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const bound = server.address() as AddressInfo;
    this.address = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    this.map?.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private define(): void {
    const registers = [this.registry];
    const status = this.status;
    new Gauge({
      name: 'netmachine_connections',
      help: 'Live authenticated connections to other nodes',
      registers,
      collect() {
        this.set(status().connections.length);
      },
    });
    new Counter({
      name: 'netmachine_messages_total',
      help: 'Messages by route and outcome',
      labelNames: ['route', 'outcome'],
      registers,
      collect() {
        const r = status().router.counters;
        this.reset();
        this.inc({ route: 'local', outcome: 'delivered' }, r.delivered);
        this.inc({ route: 'remote', outcome: 'sent' }, r.sentRemote);
        this.inc({ route: 'remote', outcome: 'received' }, r.receivedRemote);
        this.inc({ route: 'topic', outcome: 'delivered' }, r.topicDeliveries);
      },
    });
    new Counter({
      name: 'netmachine_dropped_total',
      help: 'Messages dropped, by layer and reason',
      labelNames: ['layer', 'reason'],
      registers,
      collect() {
        const s = status();
        this.reset();
        for (const [reason, n] of Object.entries(s.router.counters.dropped))
          this.inc({ layer: 'router', reason }, n);
        for (const [reason, n] of Object.entries(s.transport.dropped))
          this.inc({ layer: 'transport', reason }, n);
      },
    });
    new Gauge({
      name: 'netmachine_service_counter',
      help: "Each running service's counters (pubsub, storage, nats, ...), by service and counter path",
      labelNames: ['service', 'counter'],
      registers,
      collect() {
        this.reset();
        for (const [service, counters] of Object.entries(status().services)) {
          for (const [counter, n] of numericLeaves(counters)) this.set({ service, counter }, n);
        }
      },
    });
    new Counter({
      name: 'netmachine_handler_errors_total',
      help: 'Engine handlers that threw',
      registers,
      collect() {
        this.reset();
        this.inc(status().router.counters.handlerErrors);
      },
    });
    new Gauge({
      name: 'netmachine_queue_depth',
      help: 'Messages waiting, per engine mailbox and per peer node queue',
      labelNames: ['queue'],
      registers,
      collect() {
        const s = status();
        this.reset();
        for (const [engine, n] of Object.entries(s.router.queueDepths))
          this.set({ queue: `engine:${engine}` }, n);
        for (const [node, n] of Object.entries(s.transport.queueDepths))
          this.set({ queue: `node:${node}` }, n);
      },
    });
    new Counter({
      name: 'netmachine_handshake_failures_total',
      help: 'Connection handshakes that failed (refused, wrong key, incompatible, timed out)',
      registers,
      collect() {
        this.reset();
        this.inc(status().transport.handshakeFailures);
      },
    });
    new Counter({
      name: 'netmachine_flow_pauses_total',
      help: 'Times reading from a peer paused because a receiving engine was full (backpressure, not loss)',
      registers,
      collect() {
        this.reset();
        this.inc(status().transport.readPauses);
      },
    });
    new Counter({
      name: 'netmachine_relayed_messages_total',
      labelNames: ['direction'],
      help: 'Messages that went out through a relay (no direct connection) or came in through one, opened here',
      registers,
      collect() {
        this.reset();
        const t = status().transport;
        this.inc({ direction: 'out' }, t.relayedOut);
        this.inc({ direction: 'in' }, t.relayedIn);
      },
    });
    new Counter({
      name: 'netmachine_duplicate_frames_dropped_total',
      help: 'Message frames a connection had already delivered (a duplicated write), dropped',
      registers,
      collect() {
        this.reset();
        this.inc(status().transport.duplicatesDropped);
      },
    });
    new Gauge({
      name: 'netmachine_peer_rtt_ms',
      help: 'Smoothed round-trip time to each connected peer',
      labelNames: ['peer'],
      registers,
      collect() {
        this.reset();
        for (const c of status().connections) if (c.rttMs !== undefined) this.set({ peer: c.node }, c.rttMs);
      },
    });
    new Gauge({
      name: 'netmachine_domain_view_size',
      help: 'Peers in each domain overlay view (active: live connections; passive: known members)',
      labelNames: ['domain', 'view'],
      registers,
      collect() {
        this.reset();
        for (const d of domainsOf(status())?.domains ?? []) {
          this.set({ domain: d.id, view: 'active' }, d.activeView.length);
          this.set({ domain: d.id, view: 'passive' }, d.passiveView);
        }
      },
    });
    new Counter({
      name: 'netmachine_domain_refused_total',
      help: 'Domain input refused, by reason (wrong secret, forged invite or response, no record, replayed leave, …)',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(domainsOf(status())?.refused ?? {})) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'netmachine_anycast_total',
      help: 'Anycast messages sent, members skipped for the next one, and messages no member served',
      labelNames: ['outcome'],
      registers,
      collect() {
        const a = domainsOf(status())?.anycast;
        this.reset();
        if (a === undefined) return;
        this.inc({ outcome: 'sent' }, a.sent);
        this.inc({ outcome: 'failover' }, a.failovers);
        this.inc({ outcome: 'failed' }, a.failed);
      },
    });
    new Counter({
      name: 'netmachine_transport_bytes_total',
      help: 'Bytes sent and received on node connections',
      labelNames: ['direction'],
      registers,
      collect() {
        const t = status().transport;
        this.reset();
        this.inc({ direction: 'in' }, t.bytesIn);
        this.inc({ direction: 'out' }, t.bytesOut);
      },
    });
  }
}

/** The domains service's counters, when the node runs it. */
function domainsOf(status: NodeStatus): DomainServiceCounters | undefined {
  return status.services.domains as DomainServiceCounters | undefined;
}

function splitHostPort(text: string): { host: string; port: number } {
  const index = text.lastIndexOf(':');
  const host = text.slice(0, index).replace(/^\[|\]$/g, '');
  return { host, port: Number(text.slice(index + 1)) };
}
