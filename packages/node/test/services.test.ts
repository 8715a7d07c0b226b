import { InvalidAddressError, type PeerEvent, type Service, type ServiceContext } from '@netmachine/core';
import { MemoryNetwork, memory } from '@netmachine/transport';
import { describe, expect, it } from 'vitest';
import { createNode } from '../src/index.js';

/** A service that records its lifecycle and the peer events it is given, in one shared log. */
function recorder(name: string, log: string[]) {
  return (context: Pick<ServiceContext, 'peers' | 'router' | 'signal'>): Service & { peers: PeerEvent[] } => {
    const peers: PeerEvent[] = [];
    return {
      peers,
      async start() {
        log.push(`start ${name}`);
        context.router.spawn(name, (m, ctx) => ctx.reply(m, name));
        context.peers.events.on('peer:connected', (e) => peers.push(e));
        context.signal.addEventListener('abort', () => log.push(`aborted ${name}`));
      },
      async stop() {
        log.push(`stop ${name}`);
      },
      counters: () => ({ started: 1 }),
    };
  };
}

describe('createNode with services', () => {
  it('starts services in order, gives them peer events, and stops them in reverse', async () => {
    const log: string[] = [];
    const network = new MemoryNetwork();
    const make = () =>
      createNode({
        transports: [memory({ network })],
        listen: ['memory://0'],
        services: { first: recorder('first', log), second: recorder('second', log) },
      });
    const a = await make();
    const b = await make();
    await a.start();
    await b.start();
    expect(log).toEqual(['start first', 'start second', 'start first', 'start second']);
    await a.addPeer(b.advert, { permanent: true });
    const reply = await a.client('asker').request({ node: b.id, name: 'second' }, null);
    expect(reply.body).toBe('second');
    expect(a.services.first.peers.map((e) => [e.type, e.node])).toEqual([['peer:connected', b.id]]);
    expect(a.counters().services).toEqual({ first: { started: 1 }, second: { started: 1 } });
    log.length = 0;
    await a.stop();
    expect(log).toEqual(['aborted first', 'aborted second', 'stop second', 'stop first']);
    await b.stop();
  });

  it('refuses a listen address whose scheme no registered transport serves', async () => {
    const attempt = createNode({ transports: [memory()], listen: ['tls://127.0.0.1:0'] });
    await expect(attempt).rejects.toBeInstanceOf(InvalidAddressError);
    await expect(attempt).rejects.toThrow(/registered: memory/);
  });

  it('stops the services already built when a later factory fails', async () => {
    const log: string[] = [];
    const attempt = createNode({
      transports: [memory()],
      services: {
        first: recorder('first', log),
        broken: () => {
          throw new Error('cannot build');
        },
      },
    });
    await expect(attempt).rejects.toThrow('cannot build');
    expect(log).toEqual(['stop first']);
  });
});
