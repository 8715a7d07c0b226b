import type { Logger } from '@netmachine/core';

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
