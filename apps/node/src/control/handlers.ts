import {
  assertEngineName,
  type EngineClient,
  type EngineMessage,
  parseDomainId,
  parseEngineAddress,
  parseNodeId,
  parseTopicId,
  SchemaError,
  type TopicId,
} from '@netmachine/core';
import { type DomainService, formatInvite } from '@netmachine/domain';
import type { NetmachineNode } from '@netmachine/node';
import type { PubSubEngine } from '@netmachine/pubsub';
import { formatReference, parseReference, type StorageService } from '@netmachine/storage';
import * as v from 'valibot';
import { ConfigSchema } from '../config.js';
import { applyDomainEntry } from '../domains.js';
import { ServiceNotRunningError } from '../errors.js';
import { nodeStatus } from '../status.js';
import type { ControlHandler } from './server.js';

/** The engine through which control requests act on the node. */
export const CONTROL_ENGINE = 'control';
/** Most events a streaming `subscribe` may have in flight before the oldest are dropped. */
const SUBSCRIBE_MAILBOX = 4096;

function stringArg(args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string' || value.length === 0)
    throw new SchemaError(`args.${name}`, 'expected a string');
  return value;
}

/** `name` (a local engine), `name@node`, or `name@domain:DOMAIN` (anycast to a member running `name`). */
function destination(text: string, node: NetmachineNode) {
  const anycast = /^(.+)@domain:([a-z2-7]{52})$/.exec(text);
  if (anycast)
    return { domain: parseDomainId(anycast[2] as string), name: assertEngineName(anycast[1] as string) };
  return text.includes('@') ? parseEngineAddress(text) : { node: node.id, name: text };
}

/** A message as the control client sees it: addresses in text form, plain JSON. */
export function messageView(m: EngineMessage): Record<string, unknown> {
  return {
    id: m.id,
    src: `${m.src.name}@${m.src.node}`,
    protocol: m.protocol,
    body: m.body instanceof Uint8Array ? Buffer.from(m.body).toString('base64') : m.body,
    ...('topic' in m.dst ? { topic: m.dst.topic } : {}),
  };
}

/** The service `name` of `node`; the control ops that need one fail clearly on a node without it. */
function service<T>(node: NetmachineNode, name: string): T {
  const found = node.services[name];
  if (found === undefined) throw new ServiceNotRunningError(name);
  return found as unknown as T;
}

/** The ops a running node serves on its control socket. */
export function controlHandlers(
  node: NetmachineNode,
  extra: { metricsAddress?: () => string | undefined; dir?: string } = {},
): Record<string, ControlHandler> {
  const control: EngineClient = node.client(CONTROL_ENGINE);
  let subscriptions = 0;
  return {
    status: async () => ({ ...nodeStatus(node), metrics: extra.metricsAddress?.() }),
    advert: async () => node.advertText,
    peers: async () =>
      [...node.identity.nodes()].map((r) => ({
        id: r.id,
        trust: r.trust,
        addrs: r.advert?.addrs.map((a) => a.url) ?? [],
        connected: node.transport.connectedNodes().includes(r.id),
      })),
    send: async (args) => {
      control.send(destination(stringArg(args, 'dst'), node), args.body ?? null, {
        protocol: typeof args.protocol === 'string' ? args.protocol : undefined,
      });
      return { sent: true };
    },
    request: async (args, call) => {
      const reply = await control.request(destination(stringArg(args, 'dst'), node), args.body ?? null, {
        timeoutMs: typeof args.timeoutMs === 'number' ? args.timeoutMs : undefined,
        protocol: typeof args.protocol === 'string' ? args.protocol : undefined,
        signal: call.signal,
      });
      return messageView(reply);
    },
    put: async (args, call) => {
      const path = stringArg(args, 'path');
      let lastEmit = 0;
      const storage = service<StorageService>(node, 'storage');
      const reference = await storage.put(path, {
        onProgress: (p) => {
          // A progress line at most every 100 ms: the client draws a bar, not a log.
          const now = Date.now();
          if (now - lastEmit >= 100 || p.bytes === p.totalBytes) {
            lastEmit = now;
            call.emit({ bytes: p.bytes, totalBytes: p.totalBytes ?? null });
          }
        },
      });
      return { reference: formatReference(reference), bytes: storage.storage.size(reference) };
    },
    get: async (args, call) => {
      const storage = service<StorageService>(node, 'storage');
      const reference = parseReference(stringArg(args, 'reference'));
      const out = stringArg(args, 'out');
      const peers = Array.isArray(args.peers)
        ? (args.peers as string[]).map((p) => parseNodeId(p))
        : undefined;
      let lastEmit = 0;
      const result = await storage.fetch(reference, {
        ...(peers ? { peers } : {}),
        signal: call.signal,
        onProgress: (p) => {
          const now = Date.now();
          if (now - lastEmit >= 100 || p.bytes === p.totalBytes) {
            lastEmit = now;
            call.emit({ bytes: p.bytes, totalBytes: p.totalBytes ?? null });
          }
        },
      });
      await storage.storage.getToFile(reference, out);
      return { out, bytes: storage.storage.size(reference), chunks: result.chunks };
    },
    'domain.apply': async (args, call) => {
      // The same entry the config holds: validated by the config's own schema.
      const parsed = v.parse(ConfigSchema, { domains: [args.entry] });
      const entry = parsed.domains[0] as (typeof parsed.domains)[number];
      const domains = service<DomainService>(node, 'domains');
      const domain = await applyDomainEntry(domains, entry, {
        dir: extra.dir,
        logger: node.logger,
        signal: call.signal,
        wait: true,
      });
      return { domain, ticket: domains.ticket(domain), record: domains.record(domain) !== undefined };
    },
    'domain.leave': async (args) => {
      const domain = parseDomainId(stringArg(args, 'domain'));
      await service<DomainService>(node, 'domains').leave(domain);
      return { left: domain };
    },
    'domain.list': async () => service<DomainService>(node, 'domains').list(),
    'domain.members': async (args) =>
      service<DomainService>(node, 'domains').members(parseDomainId(stringArg(args, 'domain'))),
    'domain.ticket': async (args) => ({
      ticket: service<DomainService>(node, 'domains').ticket(parseDomainId(stringArg(args, 'domain'))),
    }),
    'domain.invite': async (args) => {
      const domain = parseDomainId(stringArg(args, 'domain'));
      const invitee = typeof args.invitee === 'string' ? parseNodeId(args.invitee) : undefined;
      const invite = service<DomainService>(node, 'domains').invite(domain, invitee ? { invitee } : {});
      return { invite: formatInvite(invite) };
    },
    'topic.create': async () => {
      const { topic } = service<PubSubEngine>(node, 'pubsub').createTopic({ publisher: control.self });
      return { topic };
    },
    publish: async (args) => {
      control.publish(parseTopicId(stringArg(args, 'topic')), args.body ?? null);
      return { published: true };
    },
    subscribe: async (args, call) => {
      const pubsub = service<PubSubEngine>(node, 'pubsub');
      const topic: TopicId = parseTopicId(stringArg(args, 'topic'));
      const count = typeof args.count === 'number' ? args.count : Number.POSITIVE_INFINITY;
      let seen = 0;
      let finish!: () => void;
      const done = new Promise<void>((resolve) => {
        finish = resolve;
      });
      const engine = node.client(
        `${CONTROL_ENGINE}.sub.${++subscriptions}`,
        (m) => {
          call.emit(messageView(m));
          if (++seen >= count) finish();
        },
        { mailboxSize: SUBSCRIBE_MAILBOX, mailboxPolicy: 'drop-oldest' },
      );
      call.signal.addEventListener('abort', () => finish(), { once: true });
      engine.subscribe(topic);
      // Report "subscribed" only once the publisher's node has recorded us: events published after
      // that line are then guaranteed to be forwarded.
      await pubsub.whenSubscribed(topic, { signal: call.signal, timeoutMs: 15_000 });
      call.emit({ subscribed: topic });
      try {
        await done;
      } finally {
        await engine.stop();
      }
      return { received: seen };
    },
  };
}
