import {
  type AnycastAddress,
  AnycastFailedError,
  ConnectionClosedError,
  type DomainDirectory,
  KeyPair,
  type NodeId,
} from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { Router } from '../src/index.js';

const domain = KeyPair.generate().domainId;
const far = KeyPair.generate().id;

function setup(candidates: NodeId[]) {
  const self = KeyPair.generate().id;
  const router = new Router({ node: self });
  const failures: NodeId[] = [];
  const directory: DomainDirectory = {
    candidates: (_dst: AnycastAddress) => candidates.map((n) => (n === ('self' as NodeId) ? self : n)),
    reportFailure: (_dst, node) => {
      failures.push(node);
    },
  };
  router.setDomainDirectory(directory);
  // Another node that cannot be reached: every message to it comes back undeliverable.
  router.setNodeSender({
    canReach: () => true,
    send: (m) => queueMicrotask(() => router.undeliverable(m, new ConnectionClosedError('gone'))),
  });
  return { router, self, failures };
}

describe('anycast through the DomainDirectory seam', () => {
  it('a member that cannot be reached is skipped for the next; the reply comes from whoever served', async () => {
    const { router, self, failures } = setup([far, 'self' as NodeId]);
    router.spawn('search', (m, ctx) => ctx.reply(m, 'found'));
    const reply = await router.client('app').request({ domain, name: 'search' }, 'q', { timeoutMs: 2000 });
    expect(reply.body).toBe('found');
    expect(reply.src).toEqual({ node: self, name: 'search' });
    expect(failures).toEqual([far]);
    expect(router.anycastCounters).toMatchObject({ sent: 1, failovers: 1, failed: 0 });
  });

  it('no member, or none that answers, is a typed error', async () => {
    const { router } = setup([]);
    const app = router.client('app');
    await expect(app.request({ domain, name: 'search' }, 'q')).rejects.toBeInstanceOf(AnycastFailedError);
    expect(() => app.send({ domain, name: 'search' }, 'q')).toThrow(AnycastFailedError);
    const other = setup([far]);
    const error = await other.router
      .client('app')
      .request({ domain, name: 'search' }, 'q', { timeoutMs: 1000 })
      .catch((e) => e);
    expect(error).toBeInstanceOf(AnycastFailedError);
    expect(error.attempts).toBe(1);
    expect(other.router.anycastCounters.failed).toBe(1);
  });

  it('a fire-and-forget anycast goes to the first reachable member', async () => {
    const { router } = setup(['self' as NodeId]);
    const got: unknown[] = [];
    router.spawn('search', (m) => {
      got.push(m.body);
    });
    router.client('app').send({ domain, name: 'search' }, 'hello');
    await expect.poll(() => got).toEqual(['hello']);
  });
});
