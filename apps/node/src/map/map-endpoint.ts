import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MapSnapshots } from './snapshot.js';

/**
 * The map page on the metrics endpoint: `/map` (HTML), `/map.js` and `/map.css` (served as files, so
 * the CSP allows no inline script or style), `/map.json` (one snapshot) and `/map/events` (a snapshot
 * a second as server-sent events). Read-only: GET only, nothing here changes the node.
 */
export class MapEndpoint {
  private readonly clients = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | undefined;
  private readonly assets = new Map<string, { type: string; body: Buffer }>();

  constructor(
    private readonly snapshots: MapSnapshots,
    private readonly options: { intervalMs?: number; maxClients?: number } = {},
  ) {}

  /** Whether the request was a map route (answered here). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/map' && !path.startsWith('/map.') && !path.startsWith('/map/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain', 'read-only\n');
    // A page on another site could point a name at 127.0.0.1 (DNS rebinding): answer only loopback names.
    if (!isLoopbackHost(req.headers.host)) return reply(res, 403, 'text/plain', 'loopback only\n');
    switch (path) {
      case '/map':
      case '/map/':
        return this.asset(res, 'map.html', 'text/html; charset=utf-8');
      case '/map.js':
        return this.asset(res, 'map.js', 'text/javascript; charset=utf-8');
      case '/map.css':
        return this.asset(res, 'map.css', 'text/css; charset=utf-8');
      case '/map.json':
        return reply(res, 200, 'application/json', JSON.stringify(this.snapshots.take()));
      case '/map/events':
        return this.subscribe(req, res);
      default:
        return reply(res, 404, 'text/plain', 'not found\n');
    }
  }

  /** Ends every event stream (the server is stopping). */
  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopTimer();
  }

  private asset(res: ServerResponse, file: string, type: string): true {
    let entry = this.assets.get(file);
    if (!entry) {
      entry = { type, body: readFileSync(new URL(`./assets/${file}`, import.meta.url)) };
      this.assets.set(file, entry);
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': entry.type, 'cache-control': 'no-cache' });
    res.end(entry.body);
    return true;
  }

  private subscribe(req: IncomingMessage, res: ServerResponse): true {
    // Bounded: a tab left open per user is expected, hundreds are not.
    if (this.clients.size >= (this.options.maxClients ?? 8)) {
      reply(res, 503, 'text/plain', 'too many map viewers\n');
      return true;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write(`retry: 1000\n\n`);
    this.clients.add(res);
    req.socket.setTimeout(0);
    req.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.stopTimer();
    });
    this.send(res, JSON.stringify(this.snapshots.take()));
    this.timer ??= setInterval(() => this.broadcast(), this.options.intervalMs ?? 1000);
    this.timer.unref();
    return true;
  }

  private broadcast(): void {
    const data = JSON.stringify(this.snapshots.take());
    for (const res of this.clients) this.send(res, data);
  }

  private send(res: ServerResponse, data: string): void {
    // A viewer that stopped reading is dropped rather than buffered without bound.
    if (res.writableLength > 1024 * 1024) {
      this.clients.delete(res);
      res.destroy();
      return;
    }
    res.write(`event: snapshot\ndata: ${data}\n\n`);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Scripts, styles and connections from this origin only; no frames, forms, plugins or inline code. */
export const MAP_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  'content-security-policy': MAP_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

function reply(res: ServerResponse, status: number, type: string, body: string): true {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
  return true;
}

export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return false;
  return /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\])(:\d{1,5})?$/.test(host);
}
