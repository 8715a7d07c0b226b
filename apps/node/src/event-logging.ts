import type { EventSource, Logger } from '@netmachine/core';
import type { TransportEvent } from '@netmachine/transport';

/**
 * Logs noisy conditions (refused handshakes in a flood, drops) at most once per window per kind,
 * with the number suppressed since: clear log lines without letting an attacker fill the disk.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly windowMs = 5_000,
  ) {}

  warn(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const entry = this.last.get(kind);
    if (entry !== undefined && now - entry.at < this.windowMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    this.last.set(kind, { at: now, suppressed: 0 });
    this.logger.warn(
      { ...fields, kind, ...(suppressed > 0 ? { suppressedSinceLast: suppressed } : {}) },
      message,
    );
  }
}

/** Logs the Transport engine's events: connections at info, failures and drops rate-limited at warn. */
export function logTransportEvents(events: EventSource<TransportEvent>, logger: Logger): () => void {
  const log = new RateLimitedLog(logger);
  return events.on('*', (e) => {
    switch (e.type) {
      case 'peer:connected':
        logger.info({ peer: e.node, protocol: e.protocol, direction: e.direction }, 'node connected');
        return;
      case 'peer:disconnected':
        logger.info({ peer: e.node, err: e.error }, 'node disconnected');
        return;
      case 'peer:connect-failed':
        log.warn(
          `connect-failed:${e.node}`,
          { peer: e.node, attempt: e.attempt, err: e.error },
          'connect failed',
        );
        return;
      case 'message:dropped':
        log.warn(
          `dropped:${e.reason}`,
          { reason: e.reason, peer: e.node, err: e.error },
          'message or frame dropped',
        );
        return;
      case 'queue:full':
        log.warn(`queue-full:${e.node}`, { peer: e.node, capacity: e.capacity }, 'queue for node full');
        return;
    }
  });
}
