import { type NodeId, readKeyFile } from '@netmachine/core';
import { readConfig } from '../config.js';
import { controlHandlers } from '../control/handlers.js';
import { ControlServer } from '../control/server.js';
import { applyDomainEntry } from '../domains.js';
import { createLogger, type LogLevel } from '../logger.js';
import { domainViews } from '../map/domain-views.js';
import { PeerLinks } from '../map/peer-links.js';
import { pubsubTopics } from '../map/topics.js';
import { MetricsServer } from '../metrics.js';
import { createNode, defaultServices } from '../node.js';
import { nodePaths } from '../paths.js';
import { nodeStatus } from '../status.js';

export interface StartOptions {
  dir: string;
  logLevel?: LogLevel;
}

/**
 * Runs a node in the foreground until SIGINT/SIGTERM. Prints one JSON line `{"ready": …}` on stdout
 * once it serves, so scripts can wait for it.
 */
export async function startCommand(options: StartOptions): Promise<void> {
  const paths = nodePaths(options.dir);
  const config = await readConfig(paths.config);
  const logger = createLogger(options.logLevel ?? config.log.level);
  // Signal handlers first: a SIGTERM that arrives while starting (or right after "ready") still stops
  // the node cleanly instead of killing it.
  const stopRequested = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  const keyPair = await readKeyFile(paths.key);
  const node = await createNode({
    dir: paths.dir,
    config,
    keyPair,
    logger,
    services: await defaultServices(config),
  });
  // Subscribed before start, so the map knows how the first links were made.
  const links = new PeerLinks(node.peers.events);
  await node.start();
  const stopping = new AbortController();
  for (const entry of config.domains) {
    await applyDomainEntry(node.services.domains, entry, { dir: paths.dir, logger, signal: stopping.signal });
  }
  const metrics =
    config.metrics === false
      ? undefined
      : new MetricsServer(config.metrics.listen, () => nodeStatus(node), logger, {
          links: (peer) => links.get(peer as NodeId),
          topics: () => pubsubTopics(node.services.pubsub, node.id),
          domains: () => domainViews(node.services.domains),
        });
  await metrics?.start();
  const control = new ControlServer(
    nodePaths(paths.dir, config.control.socket).controlSocket,
    controlHandlers(node, { metricsAddress: () => metrics?.address, dir: paths.dir }),
    logger,
  );
  await control.start();
  process.stdout.write(
    `${JSON.stringify({
      ready: true,
      id: node.id,
      listen: node.transport.listenAddresses,
      metrics: metrics?.address,
      control: control.path,
      advert: node.advertText,
    })}\n`,
  );
  const signal = await stopRequested;
  logger.info({ signal }, 'stopping');
  stopping.abort();
  await control.stop();
  await metrics?.stop();
  links.close();
  await node.stop();
}
