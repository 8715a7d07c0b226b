import { mkdir } from 'node:fs/promises';
import {
  InvalidAddressError,
  KeyPair,
  type Logger,
  noopLogger,
  readKeyFile,
  type TransportFactory,
  writeKeyFile,
} from '@netmachine/core';
import { DiscoveryService } from '@netmachine/discovery';
import { DomainService } from '@netmachine/domain';
import { openIdentityStore } from '@netmachine/identity-store';
import {
  createNode as assembleNode,
  type NetmachineNode,
  type ServiceFactories,
  type ServicesOf,
} from '@netmachine/node';
import { type NodeConfig, type NodeConfigInput, validateConfig } from './config.js';
import { ConfigError, OptionalPackageMissingError } from './errors.js';
import { logTransportEvents, RateLimitedLog } from './event-logging.js';
import { nodePaths } from './paths.js';
import { relayOptionsFromConfig, withMembership } from './relay-config.js';

export { NetmachineNode, ROUTER_ENGINE } from '@netmachine/node';

export interface CreateNodeOptions<F extends ServiceFactories> {
  /** The node's configuration (validated here; defaults fill the gaps). */
  config?: NodeConfigInput | NodeConfig;
  /** A state directory: key file, identity store, service data, control socket. Omit for an in-memory node. */
  dir?: string;
  /** The node's key; read from `dir` when omitted there, generated for an in-memory node. */
  keyPair?: KeyPair;
  logger?: Logger;
  /**
   * Transport plugins, e.g. `[tls(), quic()]`. When omitted, those the config names are loaded on
   * demand (`tls`, `quic`, `memory`); a transport given here may serve any scheme of its own.
   */
  transports?: readonly TransportFactory[];
  /** Services by name, e.g. `{ pubsub: pubsub(), storage: storage() }`. A node runs only these. */
  services?: F;
}

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

/** Imports an optional package, saying which one to install when it is absent. */
async function optional<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new OptionalPackageMissingError(name, { cause: error });
    }
    throw error;
  }
}

/**
 * The transports a config names (its listen schemes and its preference list), each package loaded
 * only when named. A scheme named only as a preference is skipped, with a warning, when its package
 * is not installed; a listen scheme is not.
 */
export async function transportsFromConfig(config: NodeConfig, logger: Logger): Promise<TransportFactory[]> {
  const listened = new Set(config.listen.map((url) => new URL(url).protocol.slice(0, -1)));
  const schemes = new Set([...listened, ...config.transports]);
  const refusals = new RateLimitedLog(logger);
  const factories: TransportFactory[] = [];
  for (const scheme of schemes) {
    try {
      switch (scheme) {
        case 'tls': {
          const { tls } = await optional(
            '@netmachine/transport-tls',
            () => import('@netmachine/transport-tls'),
          );
          const factory = tls(
            config.limits.maxPendingHandshakes
              ? { maxPendingHandshakes: config.limits.maxPendingHandshakes }
              : {},
          );
          factories.push((context) => {
            const transport = factory(context);
            transport.events.on('*', (event) => {
              if (event.type !== 'dial:failed')
                refusals.warn(`tls:${event.type}`, { ...event }, `tls: ${event.type}`);
            });
            return transport;
          });
          break;
        }
        case 'quic': {
          const { quic } = await optional(
            '@netmachine/transport-quic',
            () => import('@netmachine/transport-quic'),
          );
          factories.push(quic());
          break;
        }
        case 'memory': {
          const { memory } = await import('@netmachine/transport');
          factories.push(memory());
          break;
        }
        default:
          // A scheme served by a third-party transport must be given in `transports`.
          if (listened.has(scheme)) continue;
          logger.warn({ transport: scheme }, 'no built-in transport for this scheme; skipped');
      }
    } catch (error) {
      if (listened.has(scheme) || !(error instanceof OptionalPackageMissingError)) throw error;
      logger.warn({ transport: scheme, err: error }, 'transport not installed; skipped');
    }
  }
  return factories;
}

/** The services the `netmachine` command runs, each package loaded on demand. */
export async function defaultServices(config: NodeConfig) {
  const { pubsub } = await optional('@netmachine/pubsub', () => import('@netmachine/pubsub'));
  const { storage } = await optional('@netmachine/storage', () => import('@netmachine/storage'));
  const { domains } = await optional('@netmachine/domain', () => import('@netmachine/domain'));
  const { relay } = await optional('@netmachine/relay', () => import('@netmachine/relay'));
  const domainService = withMembership(domains());
  const services = {
    pubsub: pubsub(),
    storage: storage(config.storage.quotaBytes ? { quotaBytes: config.storage.quotaBytes } : {}),
    domains: domainService.factory,
    relay: relay(relayOptionsFromConfig(config.relay, domainService.isMember)),
  };
  if (!config.nats) return services;
  const { nats, natsServiceOptionsFromConfig } = await optional(
    '@netmachine/nats',
    () => import('@netmachine/nats'),
  );
  const { engines, ...section } = config.nats;
  const trusted = Object.entries(engines).map(([name, keys]) => [
    name,
    typeof keys === 'string' ? [keys] : keys,
  ]);
  // Reads the nkey or credentials file now: a missing file fails `start` with the field's name.
  return {
    ...services,
    nats: nats(natsServiceOptionsFromConfig({ ...section, engines: Object.fromEntries(trusted) })),
  };
}

/**
 * Builds a node from its config and the transports and services it is given: nothing is started
 * until `start()`. Listen addresses must use the scheme of a registered transport.
 */
export async function createNode<F extends ServiceFactories = Record<never, never>>(
  options: CreateNodeOptions<F> = {},
): Promise<NetmachineNode<ServicesOf<F>>> {
  const config = validateConfig(options.config ?? {});
  const logger = options.logger ?? noopLogger;
  const paths = options.dir ? nodePaths(options.dir, config.control.socket) : undefined;
  if (paths) await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const keyPair = options.keyPair ?? (paths ? await loadOrCreateKey(paths.key) : KeyPair.generate());
  const transports = options.transports ?? (await transportsFromConfig(config, logger));
  const node = await assembleNode({
    keyPair,
    transports,
    listen: config.listen,
    transportOrder: config.transports,
    ...(options.services ? { services: options.services } : {}),
    ...(paths
      ? { identity: await openIdentityStore({ path: paths.identityStore, logger }), dataDir: paths.dir }
      : {}),
    logger,
    ...(config.name !== undefined ? { name: config.name } : {}),
    strict: config.strict,
    peers: config.peers,
    advertise: config.relay.use.map((id) => `relay://${id}`),
    advertiseListen: config.relay.advertiseListen,
    ...(config.limits.requestTimeoutMs ? { requestTimeoutMs: config.limits.requestTimeoutMs } : {}),
    transportLimits: {
      ...(config.limits.maxConnections ? { maxConnections: config.limits.maxConnections } : {}),
      ...(config.limits.queuePerNode ? { queueSize: config.limits.queuePerNode } : {}),
      ...(config.limits.idleTimeoutMs ? { idleTimeoutMs: config.limits.idleTimeoutMs } : {}),
    },
  }).catch((error: unknown) => {
    // A listen address whose scheme no transport serves is a config problem: name the field.
    const index = error instanceof InvalidAddressError ? config.listen.indexOf(error.address) : -1;
    if (index >= 0) throw new ConfigError('<config>', [`listen.${index}: ${(error as Error).message}`]);
    throw error;
  });
  logTransportEvents(node.transport.events, logger);
  // The domain service keeps overlay links through the Transport engine, which exists only now.
  const services = Object.values(node.services as Record<string, unknown>);
  for (const service of services) {
    if (service instanceof DomainService) service.attach(node.transport, () => node.currentAdvert);
  }
  // Discovery gossips through the Transport engine and learns this node's domains from the domain service.
  const domainService = services.find((s): s is DomainService => s instanceof DomainService);
  for (const service of services) {
    if (service instanceof DiscoveryService) {
      service.attach({
        transport: node.transport,
        ...(domainService ? { domains: domainService } : {}),
        localAdvert: () => node.currentAdvert,
      });
    }
  }
  return node;
}
