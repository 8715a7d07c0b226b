import type { EngineAddress } from '@netmachine/core';
import { domains } from '@netmachine/domain';
import { pubsub } from '@netmachine/pubsub';
import { tls } from '@netmachine/transport-tls';
import { createLogger, type LogLevel } from '../logger.js';
import { createNode } from '../node.js';

export interface DemoOptions {
  /** Seconds to run; until Ctrl-C when omitted. */
  duration?: number;
  logLevel?: LogLevel;
  json?: boolean;
}

const NAMES = ['alpha', 'beta', 'gamma'] as const;

/**
 * A three-node network on loopback in one process, over real TLS: alpha sends unicast to beta and
 * gamma, asks beta's echo engine, and publishes to a topic that engines on beta and gamma follow.
 * A summary line per second shows what flowed.
 */
export async function demoCommand(options: DemoOptions): Promise<void> {
  const logger = createLogger(options.logLevel ?? 'warn');
  const start = (name: string) =>
    createNode({
      config: { name, listen: ['tls://127.0.0.1:0'], transports: ['tls'], metrics: false },
      logger: logger.child({ node: name }),
      transports: [tls()],
      services: { pubsub: pubsub(), domains: domains() },
    });
  type DemoNode = Awaited<ReturnType<typeof start>>;
  const nodes: DemoNode[] = [];
  for (const name of NAMES) nodes.push(await start(name));
  const [alpha, beta, gamma] = nodes as [DemoNode, DemoNode, DemoNode];
  for (const node of nodes) await node.start();
  // Every node learns every other node's advert; alpha keeps permanent links to both.
  for (const node of nodes) {
    for (const other of nodes) {
      if (other !== node) await node.addPeer(other.advert, { permanent: node === alpha });
    }
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (!options.json) {
    out('netmachine demo — three nodes on loopback over TLS');
    for (const node of nodes)
      out(`  ${node.name?.padEnd(6)} ${node.id}  ${node.transport.listenAddresses.join(' ')}`);
    out(
      'alpha → beta/gamma unicast, alpha ⇄ beta echo requests, alpha publishes to a topic beta and gamma follow',
    );
    out('Ctrl-C to stop.\n');
  }

  const stats = {
    unicast: { beta: 0, gamma: 0 },
    events: { beta: 0, gamma: 0 },
    requests: 0,
    failures: 0,
    rtts: [] as number[],
  };
  beta.spawn('echo', (m, ctx) => ctx.reply(m, m.body));
  beta.spawn('inbox', () => {
    stats.unicast.beta++;
  });
  gamma.spawn('inbox', () => {
    stats.unicast.gamma++;
  });
  const ticker = alpha.client('ticker');
  const { topic } = alpha.services.pubsub.createTopic({ publisher: ticker.self });
  beta
    .client('follower', () => {
      stats.events.beta++;
    })
    .subscribe(topic);
  gamma
    .client('follower', () => {
      stats.events.gamma++;
    })
    .subscribe(topic);

  // A domain of beta and gamma (gamma creates it, beta joins through it); alpha only knows its ticket.
  for (const [node, name] of [
    [beta, 'beta'],
    [gamma, 'gamma'],
  ] as const) {
    node.spawn('lookup', (m, ctx) => ctx.reply(m, { servedBy: name }));
  }
  const domain = await gamma.services.domains.create({ name: 'lookup-service', protocols: ['lookup'] });
  const ticket = gamma.services.domains.ticket(domain.id);
  await beta.services.domains.join(ticket);
  await alpha.services.domains.know(ticket);
  const anycast = { answered: 0, byMember: {} as Record<string, number> };
  if (!options.json)
    out(`domain ${domain.id}: beta and gamma serve 'lookup'; alpha sends anycast requests\n`);

  const to = (node: DemoNode, name: string): EngineAddress => ({ node: node.id, name });
  let seq = 0;
  const sending = setInterval(() => {
    for (let i = 0; i < 50; i++) {
      seq++;
      ticker.send(to(beta, 'inbox'), { seq, text: 'hello beta' });
      ticker.send(to(gamma, 'inbox'), { seq, text: 'hello gamma' });
      try {
        ticker.publish(topic, { seq });
      } catch {
        stats.failures++;
      }
    }
  }, 20);
  const asking = setInterval(() => {
    const started = performance.now();
    ticker.request(to(beta, 'echo'), { ping: seq }, { timeoutMs: 2000 }).then(
      () => {
        stats.requests++;
        stats.rtts.push(performance.now() - started);
      },
      () => {
        stats.failures++;
      },
    );
    ticker
      .request<{ servedBy: string }>({ domain: domain.id, name: 'lookup' }, { q: seq }, { timeoutMs: 2000 })
      .then(
        (reply) => {
          anycast.answered++;
          anycast.byMember[reply.body.servedBy] = (anycast.byMember[reply.body.servedBy] ?? 0) + 1;
        },
        () => {
          stats.failures++;
        },
      );
  }, 100);

  const began = Date.now();
  let last = { ...stats.unicast, events: { ...stats.events } };
  const summary = setInterval(() => {
    const rtts = stats.rtts.splice(0).sort((a, b) => a - b);
    const p50 = rtts.length ? (rtts[Math.floor(rtts.length / 2)] as number) : Number.NaN;
    const line = {
      t: Math.round((Date.now() - began) / 1000),
      unicastPerSec: stats.unicast.beta - last.beta + (stats.unicast.gamma - last.gamma),
      eventsPerSec: stats.events.beta - last.events.beta + (stats.events.gamma - last.events.gamma),
      requests: stats.requests,
      requestP50Ms: Number(p50.toFixed(2)),
      failures: stats.failures,
      anycastAnswered: anycast.answered,
      anycastByMember: { ...anycast.byMember },
      connections: nodes.map((n) => n.transport.connectedNodes().length),
    };
    last = { ...stats.unicast, events: { ...stats.events } };
    out(
      options.json
        ? JSON.stringify(line)
        : `t=${String(line.t).padStart(3)}s  unicast ${String(line.unicastPerSec).padStart(6)}/s  pubsub ${String(line.eventsPerSec).padStart(6)}/s  requests ${line.requests} (p50 ${line.requestP50Ms} ms)  failures ${line.failures}  anycast ${line.anycastAnswered} ${JSON.stringify(line.anycastByMember)}  links ${line.connections.join('/')}`,
    );
  }, 1000);

  await new Promise<void>((resolve) => {
    const timer = options.duration !== undefined ? setTimeout(resolve, options.duration * 1000) : undefined;
    const stop = () => {
      if (timer) clearTimeout(timer);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(sending);
  clearInterval(asking);
  clearInterval(summary);
  for (const node of nodes) await node.stop();
  const total = {
    unicastDelivered: stats.unicast.beta + stats.unicast.gamma,
    eventsDelivered: stats.events.beta + stats.events.gamma,
    requests: stats.requests,
    anycastAnswered: anycast.answered,
    failures: stats.failures,
  };
  out(options.json ? JSON.stringify({ done: true, ...total }) : `stopped cleanly: ${JSON.stringify(total)}`);
}
