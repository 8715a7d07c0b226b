import { readFileSync } from 'node:fs';
import { credsAuthenticator, type NodeConnectionOptions, nkeyAuthenticator } from '@nats-io/transport-node';
import type {
  EngineContext,
  EngineHandler,
  EngineOptions,
  EngineRef,
  KeyPair,
  Logger,
  NodeId,
} from '@netmachine/core';
import { type AttachRefusal, ConfigFileError } from './errors.js';
import type { LinkEvent, LinkOptions } from './nats-link.js';

/** The part of the Router the bridge uses: it works with any router that offers these. */
export interface BridgeRouter {
  readonly node: NodeId;
  client(name: string, onMessage?: EngineHandler, options?: EngineOptions): EngineContext & EngineRef;
  engine(name: string): EngineRef | undefined;
}

export interface NatsBridgeOptions extends LinkOptions {
  router: BridgeRouter;
  /**
   * The node's key: it signs the attach replies that give processes their session keys. Its id
   * must be the router's node.
   */
  keyPair: KeyPair;
  /** Engine name → public keys (base32 text) allowed to attach as that engine. */
  trustedKeys?: Readonly<Record<string, readonly string[]>>;
  /** Further keys to accept, decided by the caller (e.g. from an identity store). */
  authorize?: (name: string, publicKey: Uint8Array) => boolean;
  subjectPrefix?: string;
  /** How often processes announce themselves (sent to them in the attach reply). Default 1000. */
  heartbeatMs?: number;
  /** Heartbeats a process may miss before it is detached. Default 3. */
  missedHeartbeats?: number;
  /** How far an announcement's timestamp may be from this clock. Default 30 s. */
  maxClockSkewMs?: number;
  /** Engine names attached at once; further names are refused. Default 1024. */
  maxEngines?: number;
  /** Processes per engine name. Default 64. */
  maxInstancesPerEngine?: number;
  /** Requests from processes waiting for their reply; further ones fail with QueueFullError. Default 4096. */
  maxPendingRequests?: number;
  /** Mailbox of each proxy engine (policy `reject`). Default 1024. */
  mailboxSize?: number;
  logger?: Logger;
}

/** Why the bridge refused something a process sent on `out`. */
export type OutRejection = 'malformed' | 'not-attached' | 'bad-signature' | 'replayed' | 'refused-by-router';

export type BridgeEvent =
  | LinkEvent
  | { type: 'engine:attached'; name: string; instance: string }
  | { type: 'engine:detached'; name: string; instance: string; reason: 'left' | 'timeout' | 'stopped' }
  | { type: 'attach:refused'; name: string; reason: AttachRefusal }
  | { type: 'message:rejected'; reason: OutRejection; name?: string }
  | {
      type: 'message:dropped';
      reason: 'expired' | 'unencodable' | 'publish-failed' | 'disconnected';
      name: string;
    };

export interface NatsBridgeCounters {
  attaches: number;
  detaches: number;
  refused: Record<AttachRefusal, number>;
  /** Messages published to processes (deliveries and request results). */
  toProcesses: number;
  /** Messages from processes injected into the router. */
  fromProcesses: number;
  rejected: Record<OutRejection, number>;
  dropped: { expired: number; unencodable: number; publishFailed: number; disconnected: number };
  slowConsumers: number;
  reconnects: number;
}

export function newCounters(): NatsBridgeCounters {
  return {
    attaches: 0,
    detaches: 0,
    refused: {
      'untrusted-key': 0,
      'bad-signature': 0,
      stale: 0,
      replayed: 0,
      'name-taken': 0,
      'over-capacity': 0,
      malformed: 0,
    },
    toProcesses: 0,
    fromProcesses: 0,
    rejected: { malformed: 0, 'not-attached': 0, 'bad-signature': 0, replayed: 0, 'refused-by-router': 0 },
    dropped: { expired: 0, unencodable: 0, publishFailed: 0, disconnected: 0 },
    slowConsumers: 0,
    reconnects: 0,
  };
}

export interface NatsBridgeStatus {
  readonly connected: boolean;
  /** The NATS server the bridge is connected to right now ('' while disconnected). */
  readonly server: string;
  /** Attached names with their number of processes. */
  readonly engines: Readonly<Record<string, number>>;
  /** Every attached process: its name, instance id and the NATS server it announced itself from. */
  readonly attachments: readonly NatsAttachmentStatus[];
  readonly pendingRequests: number;
}

export interface NatsAttachmentStatus {
  readonly name: string;
  readonly instance: string;
  /** As the process's NATS client sees it (`host:port`); '' if it did not say. */
  readonly server: string;
}

/** The `nats` section of a node's config file. */
export interface NatsConfig {
  /** Every server of the cluster the node may use (`nats://host:port`); it fails over among them. */
  servers: string[];
  /** Engine name → public keys (base32 text) trusted to attach as that engine. */
  engines?: Record<string, string[]>;
  subjectPrefix?: string;
  heartbeatMs?: number;
  /**
   * Credentials for the NATS server itself (its own access control, in addition to the keys
   * above): `user` + `pass`, a `token`, an nkey seed file, or a `.creds` file — one of them.
   */
  user?: string;
  pass?: string;
  token?: string;
  /** A file holding an nkey seed (`SU…`), as `nk -gen user` writes it. */
  nkeySeedFile?: string;
  /** A NATS credentials file (JWT + nkey seed, as `nsc` writes it). */
  credentialsFile?: string;
}

/** NATS client options for a config's credentials; reads the nkey or credentials file now. */
export function natsClientOptionsFromConfig(config: NatsConfig): Partial<NodeConnectionOptions> {
  if (config.nkeySeedFile !== undefined) {
    const seed = readSecretFile(config.nkeySeedFile, 'nats.nkeySeedFile').trim();
    return { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) };
  }
  if (config.credentialsFile !== undefined) {
    const creds = readSecretFile(config.credentialsFile, 'nats.credentialsFile');
    return { authenticator: credsAuthenticator(new TextEncoder().encode(creds)) };
  }
  const options: Partial<NodeConnectionOptions> = {};
  if (config.user !== undefined) options.user = config.user;
  if (config.pass !== undefined) options.pass = config.pass;
  if (config.token !== undefined) options.token = config.token;
  return options;
}

function readSecretFile(file: string, field: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(field, file, { cause: error });
  }
}

/** The `nats()` service options for a node's config: what `netmachine start` runs. */
export function natsServiceOptionsFromConfig(
  config: NatsConfig,
): Omit<NatsBridgeOptions, 'router' | 'keyPair' | 'logger'> {
  return {
    servers: config.servers,
    trustedKeys: config.engines ?? {},
    ...(config.subjectPrefix !== undefined ? { subjectPrefix: config.subjectPrefix } : {}),
    ...(config.heartbeatMs !== undefined ? { heartbeatMs: config.heartbeatMs } : {}),
    natsOptions: natsClientOptionsFromConfig(config),
  };
}

/** Bridge options from a node's config: what the node app passes to `new NatsBridge`. */
export function bridgeOptionsFromConfig(
  config: NatsConfig,
  node: { router: BridgeRouter; keyPair: KeyPair; logger?: Logger },
): NatsBridgeOptions {
  return { ...node, ...natsServiceOptionsFromConfig(config) };
}
