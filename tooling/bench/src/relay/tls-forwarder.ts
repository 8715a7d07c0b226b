import type { HelperProcess } from '../window-report.js';
import { startWorkerProcess } from './worker-process.js';

/** Where a `raw-tls` client reaches its target through the forwarder. */
export interface ForwarderAddress {
  readonly port: number;
}

/**
 * Runs `body` with a plain TLS forwarder in its own process (the B of A → B → C for the `raw-tls`
 * peer of the relayed scenarios), given its address and the process to count as a helper.
 */
export async function withTlsForwarder<T>(
  body: (via: ForwarderAddress, helper: HelperProcess) => Promise<T>,
): Promise<T> {
  const forwarder = await startWorkerProcess<ForwarderAddress>('tls-forwarder-worker', ['--import', 'tsx']);
  try {
    return await body(forwarder.first, { label: 'forwarder', pid: forwarder.child.pid });
  } finally {
    await forwarder.stop();
  }
}
