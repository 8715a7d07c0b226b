import { resolve } from 'node:path';
import { ControlClient } from '../control/client.js';
import { MapUnavailableError } from '../errors.js';
import { nodePaths } from '../paths.js';
import { parseBody, print } from './output.js';
import { type ProgressEvent, progressReporter } from './progress.js';

export interface ControlOptions {
  dir: string;
  json?: boolean;
}

async function withControl<T>(dir: string, fn: (client: ControlClient) => Promise<T>): Promise<T> {
  const client = await ControlClient.connect(nodePaths(dir).controlSocket);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

interface StatusView {
  id: string;
  uptimeMs: number;
  listen: string[];
  metrics?: string;
  connections: { node: string; rttMs?: number }[];
  router: { counters: { delivered: number; sentRemote: number; receivedRemote: number }; engines: number };
  nats?: {
    connected: boolean;
    server: string;
    attachments: { name: string; instance: string; server: string }[];
  };
  services?: {
    domains?: {
      domains: { id: string; name: string; role: string; activeView: string[]; passiveView: number }[];
    };
  };
}

export async function statusCommand(options: ControlOptions): Promise<void> {
  const status = await withControl(options.dir, (c) => c.call<StatusView>('status'));
  print(status, options.json === true, (s: StatusView) =>
    [
      `node     ${s.id}`,
      `uptime   ${(s.uptimeMs / 1000).toFixed(0)} s`,
      `listen   ${s.listen.join(' ')}`,
      `metrics  ${s.metrics ? `http://${s.metrics}/metrics` : 'off'}`,
      `engines  ${s.router.engines}`,
      `messages delivered ${s.router.counters.delivered}, sent ${s.router.counters.sentRemote}, received ${s.router.counters.receivedRemote}`,
      `peers    ${s.connections.length}`,
      ...s.connections.map(
        (c) => `  ${c.node}${c.rttMs !== undefined ? `  rtt ${c.rttMs.toFixed(2)} ms` : ''}`,
      ),
      ...natsLines(s.nats),
      `domains  ${s.services?.domains?.domains.length ?? 0}`,
      ...(s.services?.domains?.domains ?? []).flatMap((d) => [
        `  ${d.name} ${d.id} (${d.role})  active view ${d.activeView.length}, passive view ${d.passiveView}`,
        ...d.activeView.map((n) => `    ${n}`),
      ]),
    ].join('\n'),
  );
}

/** The bridge's server and each attached process's server, one line each. */
function natsLines(nats: StatusView['nats']): string[] {
  if (nats === undefined) return [];
  return [
    `nats     ${nats.connected ? `on ${nats.server}` : 'disconnected'}, ${nats.attachments.length} attached`,
    ...nats.attachments.map((a) => `  ${a.name} ${a.instance} on ${a.server || '?'}`),
  ];
}

/** Prints the map page's URL; the node must run with its metrics endpoint on. */
export async function mapCommand(options: ControlOptions): Promise<void> {
  const status = await withControl(options.dir, (c) => c.call<StatusView>('status'));
  if (!status.metrics) throw new MapUnavailableError();
  const url = `http://${status.metrics}/map`;
  print({ url }, options.json === true, () => url);
}

export async function sendCommand(
  dst: string,
  body: string,
  options: ControlOptions & { protocol?: string },
): Promise<void> {
  const result = await withControl(options.dir, (c) =>
    c.call('send', { dst, body: parseBody(body), protocol: options.protocol }),
  );
  if (options.json) print(result, true);
}

export async function requestCommand(
  dst: string,
  body: string,
  options: ControlOptions & { protocol?: string; timeout?: number },
): Promise<void> {
  const reply = await withControl(options.dir, (c) =>
    c.call<{ body: unknown }>('request', {
      dst,
      body: parseBody(body),
      protocol: options.protocol,
      timeoutMs: options.timeout,
    }),
  );
  print(reply, options.json === true, (r: { body: unknown }) =>
    typeof r.body === 'string' ? r.body : JSON.stringify(r.body),
  );
}

export async function topicCreateCommand(options: ControlOptions): Promise<void> {
  const result = await withControl(options.dir, (c) => c.call<{ topic: string }>('topic.create'));
  print(result, options.json === true, (r: { topic: string }) => r.topic);
}

export async function pubCommand(topic: string, body: string, options: ControlOptions): Promise<void> {
  const result = await withControl(options.dir, (c) => c.call('publish', { topic, body: parseBody(body) }));
  if (options.json) print(result, true);
}

/** Prints each event as one JSON line until `count` events arrived (or forever). */
export async function subCommand(topic: string, options: ControlOptions & { count?: number }): Promise<void> {
  await withControl(options.dir, (c) =>
    c.call('subscribe', { topic, count: options.count }, (event) => {
      if (typeof event === 'object' && event !== null && 'subscribed' in event) {
        process.stderr.write(`subscribed to ${(event as { subscribed: string }).subscribed}\n`);
        return;
      }
      process.stdout.write(`${JSON.stringify(event)}\n`);
    }),
  );
}

/** Stores FILE in the running node's block store and prints its reference (the read capability). */
export async function putCommand(file: string, options: ControlOptions): Promise<void> {
  const progress = progressReporter('put');
  const result = await withControl(options.dir, (c) =>
    c.call<{ reference: string; bytes: number }>('put', { path: resolve(file) }, (e) =>
      progress.update(e as ProgressEvent),
    ),
  ).finally(() => progress.stop());
  print(result, options.json === true, (r: { reference: string }) => r.reference);
}

/** Fetches REF from peers (every connected node, or --from) into the node, then writes it to --out. */
export async function getCommand(
  reference: string,
  options: ControlOptions & { out: string; from?: string[] },
): Promise<void> {
  const progress = progressReporter('get');
  const result = await withControl(options.dir, (c) =>
    c.call<{ out: string; bytes: number }>(
      'get',
      { reference, out: resolve(options.out), ...(options.from ? { peers: options.from } : {}) },
      (e) => progress.update(e as ProgressEvent),
    ),
  ).finally(() => progress.stop());
  print(result, options.json === true, (r: { out: string; bytes: number }) => `${r.bytes} bytes → ${r.out}`);
}
