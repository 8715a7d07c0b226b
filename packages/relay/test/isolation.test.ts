import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { KeyPair, type NodeId } from '@netmachine/core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Namespaces } from './namespaces.js';

// A and C live in their own network namespaces; the relays B and B2 live in a third one joined to
// both by veth pairs, with forwarding off: A and C can reach B and B2 but not each other. Every
// node is its own process.

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/relay-process.ts', import.meta.url));
const availability = Namespaces.available();
if (!availability.ok && process.env.CI) {
  throw new Error(`network namespaces are required in CI: ${availability.reason}`);
}
if (!availability.ok) {
  process.stderr.write(
    `skipping the namespace isolation test: cannot make namespaces (${availability.reason})\n`,
  );
}

class NodeProcess {
  readonly child: ChildProcess;
  readonly #waiting = new Map<number, (value: Record<string, unknown>) => void>();
  #next = 1;
  readonly ready: Promise<Record<string, unknown>>;

  constructor(namespace: string, config: object) {
    this.child = spawn(
      'ip',
      [
        'netns',
        'exec',
        namespace,
        process.execPath,
        '--conditions=@netmachine/source',
        '--import',
        'tsx',
        script,
        JSON.stringify(config),
      ],
      { cwd: packageDir, stdio: ['pipe', 'pipe', 'inherit'] },
    );
    this.ready = new Promise((resolve) => this.#waiting.set(0, resolve));
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const value = JSON.parse(line) as Record<string, unknown> & { id: number };
      this.#waiting.get(value.id)?.(value);
      this.#waiting.delete(value.id);
    });
  }

  ask(command: object): Promise<Record<string, unknown>> {
    const id = this.#next++;
    const answer = new Promise<Record<string, unknown>>((resolve) => this.#waiting.set(id, resolve));
    this.child.stdin?.write(`${JSON.stringify({ id, ...command })}\n`);
    return answer;
  }
}

const keys = {
  a: KeyPair.generate(),
  x: KeyPair.generate(),
  b: KeyPair.generate(),
  b2: KeyPair.generate(),
  c: KeyPair.generate(),
};
const id = (k: KeyPair): NodeId => k.id as NodeId;
const seed = (k: KeyPair): string => Buffer.from(k.exportSeed()).toString('hex');

describe.skipIf(!availability.ok)('relays between isolated network namespaces', () => {
  const namespaces = new Namespaces();
  const processes: NodeProcess[] = [];
  let a: NodeProcess;
  let x: NodeProcess;
  let b: NodeProcess;
  let b2: NodeProcess;
  let c: NodeProcess;

  beforeAll(async () => {
    const nsA = namespaces.add('a');
    const nsR = namespaces.add('r');
    const nsC = namespaces.add('c');
    namespaces.link(nsA, '10.231.1.2', nsR, '10.231.1.1', 'a');
    namespaces.link(nsC, '10.231.2.2', nsR, '10.231.2.1', 'c');
    const start = (ns: string, config: object): NodeProcess => {
      const p = new NodeProcess(ns, config);
      processes.push(p);
      return p;
    };
    // The relays relay for A and C only (X, in A's namespace, is not on their list).
    const allow = [id(keys.a), id(keys.c)];
    b = start(nsR, {
      seed: seed(keys.b),
      listen: ['tls://10.231.1.1:7401', 'tls://10.231.2.1:7401'],
      peers: [],
      offer: true,
      allow,
    });
    b2 = start(nsR, {
      seed: seed(keys.b2),
      listen: ['tls://10.231.1.1:7402', 'tls://10.231.2.1:7402'],
      peers: [],
      offer: true,
      allow,
    });
    const relays = [(await b.ready).advert as string, (await b2.ready).advert as string];
    // C listens (and advertises its address) in its own namespace: a dial from A cannot get there.
    c = start(nsC, {
      seed: seed(keys.c),
      listen: ['tls://10.231.2.2:7403'],
      peers: relays,
      use: [id(keys.b), id(keys.b2)],
    });
    const cAdvert = (await c.ready).advert as string;
    await vi.waitFor(
      async () => expect(((await c.ask({ cmd: 'status' })).registeredWith as NodeId[]).length).toBe(2),
      { timeout: 20_000, interval: 200 },
    );
    a = start(nsA, { seed: seed(keys.a), listen: ['tls://10.231.1.2:7404'], peers: [...relays, cAdvert] });
    x = start(nsA, { seed: seed(keys.x), listen: ['tls://10.231.1.2:7405'], peers: [...relays, cAdvert] });
    await Promise.all([a.ready, x.ready]);
  }, 60_000);

  afterAll(async () => {
    const exited = processes.map((p) =>
      p.child.exitCode !== null || p.child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => p.child.once('exit', () => resolve())),
    );
    for (const p of processes) p.child.kill('SIGKILL');
    await Promise.all(exited);
    namespaces.remove();
  });

  it('a direct dial from A to C fails', async () => {
    const result = await a.ask({ cmd: 'dial', to: id(keys.c) });
    expect(result.error).toBeDefined();
  });

  it('A ⇄ C unicast and request/response go through B, which sees only padded ciphertext', async () => {
    await a.ask({ cmd: 'send', to: id(keys.c), count: 20, text: 'plaintext-marker-' });
    await expect.poll(async () => ((await c.ask({ cmd: 'received' })).received as string[]).length).toBe(20);
    const reply = await a.ask({ cmd: 'request', to: id(keys.c), text: 'ping' });
    expect(reply.reply).toBe('echo:ping');
    const status = await a.ask({ cmd: 'status', to: id(keys.c) });
    expect(status.connected).not.toContain(id(keys.c));
    expect((status.transport as { relayedOut: number }).relayedOut).toBeGreaterThanOrEqual(21);
    const tapB = await b.ask({ cmd: 'tap' });
    const tapB2 = await b2.ask({ cmd: 'tap' });
    // A uses whichever relay link is up first: together the relays carried the 20 (sealed together
    // when sent in one task), the request and the reply.
    expect((tapB.count as number) + (tapB2.count as number)).toBeGreaterThanOrEqual(3);
    for (const tap of [tapB, tapB2]) {
      expect(tap.allBuckets).toBe(true);
      expect(tap.markerSeen).toBe(false);
    }
  });

  it('a source the relays exclude gets a typed refusal', async () => {
    const result = await x.ask({ cmd: 'request', to: id(keys.c), text: 'let me in' });
    expect(result.error).toBe('RelaySourceNotAllowedError');
  });

  it('with B killed, A waits and its messages flow through B2', async () => {
    const before = ((await c.ask({ cmd: 'received' })).received as string[]).length;
    const bIndex = processes.indexOf(b);
    processes[bIndex]?.child.kill('SIGKILL');
    await expect
      .poll(async () => ((await a.ask({ cmd: 'status' })).connected as NodeId[]).includes(id(keys.b)))
      .toBe(false);
    await a.ask({ cmd: 'send', to: id(keys.c), count: 10, text: 'after-' });
    await expect
      .poll(async () => ((await c.ask({ cmd: 'received' })).received as string[]).length)
      .toBe(before + 10);
    const reply = await a.ask({ cmd: 'request', to: id(keys.c), text: 'still there' });
    expect(reply.reply).toBe('echo:still there');
    const status = await a.ask({ cmd: 'status', to: id(keys.c) });
    expect(status.path).toEqual({ via: 'relay', relay: id(keys.b2) });
    expect((await b2.ask({ cmd: 'tap' })).count as number).toBeGreaterThanOrEqual(3);
  });
});
