import type { SystemFactory } from './types.js';

/** Loaded on demand, so a worker measuring one system never loads the others. */
export const systems: Record<string, () => Promise<SystemFactory>> = {
  'raw-tls': async () => (await import('./raw-tls.js')).rawTls,
  'raw-tls-batched': async () => (await import('./raw-tls.js')).rawTlsBatched,
  'raw-tls-sealed': async () => (await import('./raw-tls.js')).rawTlsSealed,
  'raw-quic': async () => (await import('./raw-quic.js')).rawQuic,
  nats: async () => (await import('./nats.js')).nats,
  libp2p: async () => (await import('./libp2p.js')).libp2p,
  eventemitter: async () => (await import('./eventemitter.js')).eventEmitter,
  netmachine: async () => (await import('./netmachine.js')).netmachine,
};

export async function loadSystem(name: string): Promise<SystemFactory> {
  const load = systems[name];
  if (load === undefined) throw new Error(`unknown system ${name}`);
  return load();
}
