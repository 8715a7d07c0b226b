import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type EngineAddress,
  type EngineHandler,
  type EngineOptions,
  type EngineRef,
  formatNodeAdvert,
  KeyPair,
  type Logger,
  type NodeAdvert,
  type NodeId,
  noopLogger,
  parseNodeAdvert,
  readKeyFile,
  type Startable,
  type TopicId,
  type TransportFactory,
  writeKeyFile,
} from '@netmachine/core';
import { DomainService } from '@netmachine/domain';
import { type IdentityStore, memoryIdentityStore, openIdentityStore } from '@netmachine/identity-store';
import { NatsBridge } from '@netmachine/nats';
import { PubSubEngine } from '@netmachine/pubsub';
import { type EngineClient, Router } from '@netmachine/router';
import {
  type FetchResult,
  type ObjectReference,
  type ProgressCallback,
  STORAGE_ENGINE_NAME,
  Storage,
  StorageEngine,
} from '@netmachine/storage';
import { memory, TransportEngine } from '@netmachine/transport';
import { quic } from '@netmachine/transport-quic';
import { tls } from '@netmachine/transport-tls';
import { signOwnAdvert } from './advert.js';
import { type NodeConfig, type NodeConfigInput, validateConfig } from './config.js';
import { applyDomainEntry } from './domains.js';
import { RateLimitedLog } from './event-logging.js';
import { type NodePaths, nodePaths } from './paths.js';
import type { NodeStatus } from './status.js';

/** The well-known engine every node runs; a node addressed as such is this engine. */
export const ROUTER_ENGINE = 'router';

export interface CreateNodeOptions {
  /** The node's configuration (validated here; defaults fill the gaps). */
  config?: NodeConfigInput | NodeConfig;
  /** A state directory: key file, identity store, block store, control socket. Omit for an in-memory node. */
  dir?: string;
  /** The node's key; read from `dir` when omitted there, generated for an in-memory node. */
  keyPair?: KeyPair;
  logger?: Logger;
  /** Transport plugins, replacing those the config names (e.g. `[memory()]` in tests). */
  transports?: TransportFactory[];
}

/**
 * A netmachine node: the one place where keys, identity store, transports, router and the engines
 * built on them are wired together.
 */
export class NetmachineNode implements Startable {
  readonly id: NodeId;
  readonly router: Router;
  readonly transport: TransportEngine;
  readonly pubsub: PubSubEngine;
  /** The bridge to engines in other processes, when the config names NATS servers. */
  readonly nats: NatsBridge | undefined;
  private unwirePeerEvents: (() => void) | undefined;
  /** The Storage engine serving this node's blocks to peers and fetching from them. */
  readonly storageEngine: StorageEngine;
  /** The domains this node is in or knows: membership, overlay views, anycast resolution. */
  readonly domains: DomainService;
  private readonly stopping = new AbortController();
  private advertCache: NodeAdvert | undefined;
  private startedAt = 0;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';

  constructor(
    readonly keyPair: KeyPair,
    readonly config: NodeConfig,
    readonly identity: IdentityStore,
    readonly logger: Logger,
    readonly paths: NodePaths | undefined,
    transports: TransportFactory[],
    readonly storage: Storage,
    private readonly removeOnStop: string | undefined,
  ) {
    this.id = keyPair.id;
    this.router = new Router({
      node: this.id,
      logger,
      ...(config.limits.requestTimeoutMs ? { requestTimeoutMs: config.limits.requestTimeoutMs } : {}),
    });
    this.transport = new TransportEngine({
      keyPair,
      directory: identity,
      transports,
      listen: config.listen,
      logger,
      strict: config.strict,
      transportOrder: config.transports,
      localAdvert: () => this.advertCache,
      limits: {
        ...(config.limits.maxConnections ? { maxConnections: config.limits.maxConnections } : {}),
        ...(config.limits.queuePerNode ? { queueSize: config.limits.queuePerNode } : {}),
        ...(config.limits.idleTimeoutMs ? { idleTimeoutMs: config.limits.idleTimeoutMs } : {}),
      },
    });
    this.router.setNodeSender(this.transport);
    this.transport.setSink(this.router);
    this.pubsub = new PubSubEngine({ router: this.router, nodeKey: keyPair, logger });
    this.storageEngine = new StorageEngine({ storage, keyPair, logger });
    this.domains = new DomainService({
      router: this.router,
      keyPair,
      directory: identity,
      links: this.transport,
      localAdvert: () => this.advertCache,
      logger,
    });
    this.nats = config.nats
      ? new NatsBridge({
          router: this.router,
          keyPair,
          servers: config.nats.servers,
          trustedKeys: Object.fromEntries(
            Object.entries(config.nats.engines).map(([name, keys]) => [
              name,
              typeof keys === 'string' ? [keys] : keys,
            ]),
          ),
          logger,
        })
      : undefined;
  }

  /** This node's signed advert, with the addresses actually bound. */
  get advert(): NodeAdvert {
    if (!this.advertCache) throw new Error('the node has not started');
    return this.advertCache;
  }

  get advertText(): string {
    return formatNodeAdvert(this.advert);
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    this.startedAt = Date.now();
    await this.identity.start();
    for (const peer of this.config.peers) {
      const advert = parseNodeAdvert(peer.advert);
      await this.identity.offerNodeAdvert(advert).catch(() => false);
      await this.identity.setTrust(advert.id, peer.trust);
    }
    await this.router.start();
    this.router.spawn(ROUTER_ENGINE, (m, ctx) => {
      // The node's well-known engine: answers any request with who and when, for liveness checks.
      ctx.reply(m, { node: this.id, name: this.config.name ?? null, time: Date.now() });
    });
    await this.pubsub.start();
    this.router.spawn(STORAGE_ENGINE_NAME, this.storageEngine.handler);
    const offConnected = this.transport.events.on('NodeConnected', (e) =>
      this.pubsub.onPeerConnected(e.node),
    );
    await this.domains.start();
    const offDisconnected = this.transport.events.on('NodeDisconnected', (e) =>
      this.pubsub.onPeerDisconnected(e.node),
    );
    const log = new RateLimitedLog(this.logger);
    const offLog = this.transport.events.on('*', (e) => {
      switch (e.type) {
        case 'NodeConnected':
          this.logger.info({ peer: e.node, protocol: e.protocol, direction: e.direction }, 'node connected');
          return;
        case 'NodeDisconnected':
          this.logger.info({ peer: e.node, err: e.error }, 'node disconnected');
          return;
        case 'NodeConnectFailed':
          log.warn(
            `connect-failed:${e.node}`,
            { peer: e.node, attempt: e.attempt, err: e.error },
            'connect failed',
          );
          return;
        case 'Dropped':
          log.warn(
            `dropped:${e.reason}`,
            { reason: e.reason, peer: e.node, err: e.error },
            'message or frame dropped',
          );
          return;
        case 'QueueFull':
          log.warn(`queue-full:${e.node}`, { peer: e.node, capacity: e.capacity }, 'queue for node full');
          return;
      }
    });
    this.unwirePeerEvents = () => {
      offConnected();
      offDisconnected();
      offLog();
    };
    await this.transport.start();
    await this.nats?.start();
    this.advertCache = signOwnAdvert(this.keyPair, this.transport.listenAddresses, this.config.name);
    for (const peer of this.config.peers) {
      if (peer.permanent) this.connectPermanent(parseNodeAdvert(peer.advert).id);
    }
    this.state = 'running';
    for (const entry of this.config.domains) {
      await applyDomainEntry(this.domains, entry, {
        dir: this.paths?.dir,
        logger: this.logger,
        signal: this.stopping.signal,
      });
    }
    this.logger.info({ id: this.id, listen: this.transport.listenAddresses }, 'node started');
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.stopping.abort();
    this.unwirePeerEvents?.();
    await this.domains.stop();
    await this.nats?.stop();
    await this.pubsub.stop();
    await this.router.stop();
    await this.transport.stop();
    await this.identity.stop();
    await this.storage.close();
    if (this.removeOnStop) await rm(this.removeOnStop, { recursive: true, force: true });
    this.logger.info({ id: this.id }, 'node stopped');
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  spawn(name: string, handler: EngineHandler, options?: EngineOptions): EngineRef {
    return this.router.spawn(name, handler, options);
  }

  client(name: string, onMessage?: EngineHandler, options?: EngineOptions): EngineClient {
    return this.router.client(name, onMessage, options);
  }

  /** Creates a topic with a fresh topic key; `publisher` is the one engine allowed to publish. */
  async createTopic(publisher: EngineAddress): Promise<TopicId> {
    return this.pubsub.createTopic({ publisher }).topic;
  }

  /** Stores a file in this node's block store; resolves with its reference once durable. */
  put(path: string, options: { onProgress?: ProgressCallback } = {}): Promise<ObjectReference> {
    return this.storage.putFile(path, options);
  }

  /**
   * Fetches an object into this node's block store from `peers` (default: every connected node),
   * verifying every chunk; then `storage.getToFile(reference, path)` reads it.
   */
  fetch(
    reference: ObjectReference,
    options: { peers?: readonly NodeId[]; onProgress?: ProgressCallback; signal?: AbortSignal } = {},
  ): Promise<FetchResult> {
    const peers = options.peers ?? this.transport.connectedNodes();
    return this.storageEngine.fetch(this.fetcher(), reference, peers, {
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  private fetcherClient: EngineClient | undefined;
  private fetcher(): EngineClient {
    this.fetcherClient ??= this.router.client('storage.fetch');
    return this.fetcherClient;
  }

  /** Adds a peer at run time (its advert verified and stored); permanent peers are connected now. */
  async addPeer(
    advert: NodeAdvert | string,
    options: { permanent?: boolean; trust?: number } = {},
  ): Promise<void> {
    const parsed = typeof advert === 'string' ? parseNodeAdvert(advert) : advert;
    await this.identity.offerNodeAdvert(parsed).catch(() => false);
    if (options.trust !== undefined) await this.identity.setTrust(parsed.id, options.trust);
    if (options.permanent) this.connectPermanent(parsed.id);
  }

  /** Keeps a link to `node` up; the first attempt's failure is logged, retries go on with backoff. */
  private connectPermanent(node: NodeId): void {
    this.transport.connect(node, { permanent: true }).catch((error: unknown) => {
      this.logger.warn({ err: error, node }, 'first connection attempt failed; retrying with backoff');
    });
  }

  status(): NodeStatus {
    const routerStatus = this.router.status();
    const t = this.transport.counters();
    return {
      id: this.id,
      name: this.config.name,
      uptimeMs: this.startedAt ? Date.now() - this.startedAt : 0,
      listen: this.state === 'running' ? this.transport.listenAddresses : [],
      advertVersion: this.advertCache?.version ?? 0,
      connections: this.transport.connectedNodes().map((node) => ({
        node,
        rttMs: this.transport.rtt(node) ?? this.identity.node(node)?.rtt?.smoothedMs,
      })),
      router: {
        counters: this.router.counters,
        engines: routerStatus.engines,
        pendingRequests: routerStatus.pendingRequests,
        queueDepths: routerStatus.queueDepths,
      },
      domains: this.domains.list(),
      domainCounters: this.domains.counters(),
      anycast: this.router.anycastCounters,
      transport: {
        bytesIn: t.bytesIn,
        bytesOut: t.bytesOut,
        handshakeFailures: t.handshakeFailures,
        readPauses: t.readPauses,
        duplicatesDropped: t.duplicatesDropped,
        dropped: t.dropped,
        queueDepths: t.queueDepths,
      },
    };
  }
}

const TRANSPORT_FACTORIES: Record<string, (config: NodeConfig, log: RateLimitedLog) => TransportFactory> = {
  tls: (config, log) =>
    tls({
      ...(config.limits.maxPendingHandshakes
        ? { maxPendingHandshakes: config.limits.maxPendingHandshakes }
        : {}),
      onEvent: (event) => {
        if (event.type !== 'dial-failed') log.warn(`tls:${event.type}`, { ...event }, `tls: ${event.type}`);
      },
    }),
  quic: () => quic(),
  memory: () => memory(),
};

/** A state directory's key, made (mode 0600) on first use. */
async function loadOrCreateKey(path: string): Promise<KeyPair> {
  try {
    return await readKeyFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const key = KeyPair.generate();
    await writeKeyFile(path, key);
    return key;
  }
}

/** Builds a node from its config: nothing is started until `start()`. */
export async function createNode(options: CreateNodeOptions = {}): Promise<NetmachineNode> {
  const config = validateConfig(options.config ?? {});
  const logger = options.logger ?? noopLogger;
  const paths = options.dir ? nodePaths(options.dir, config.control.socket) : undefined;
  if (paths) await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const keyPair = options.keyPair ?? (paths ? await loadOrCreateKey(paths.key) : KeyPair.generate());
  const identity = paths
    ? await openIdentityStore({ path: paths.identityStore, logger })
    : await memoryIdentityStore({ logger });
  const refusals = new RateLimitedLog(logger);
  const schemes = new Set(config.listen.map((url) => new URL(url).protocol.slice(0, -1)));
  for (const t of config.transports) schemes.add(t);
  const transports =
    options.transports ??
    [...schemes].flatMap((scheme) => {
      const factory = TRANSPORT_FACTORIES[scheme];
      if (factory) return [factory(config, refusals)];
      logger.warn({ transport: scheme }, 'transport not available in this build; skipped');
      return [];
    });
  const temporaryBlocks = paths ? undefined : await mkdtemp(join(tmpdir(), 'netmachine-blocks-'));
  const storage = await Storage.open({
    path: paths ? paths.blocks : (temporaryBlocks as string),
    logger,
    ...(config.storage.quotaBytes ? { quotaBytes: config.storage.quotaBytes } : {}),
  });
  return new NetmachineNode(keyPair, config, identity, logger, paths, transports, storage, temporaryBlocks);
}
