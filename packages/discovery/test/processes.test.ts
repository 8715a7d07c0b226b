import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DomainId, NodeId } from '@netmachine/core';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/discovery-process.ts', import.meta.url));

interface Proc {
  readonly child: ChildProcess;
  node: NodeId | undefined;
  advert: string | undefined;
  readonly answers: Map<number, { result?: unknown; error?: string }>;
  readonly psiDone: { peer: NodeId; shared: string[]; role: string }[];
}

let nextId = 1;
const procs: Proc[] = [];

function start(): Proc {
  const child = spawn(process.execPath, ['--conditions=@netmachine/source', '--import', 'tsx', script], {
    cwd: packageDir,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const proc: Proc = { child, node: undefined, advert: undefined, answers: new Map(), psiDone: [] };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const v = JSON.parse(line) as {
      node?: NodeId;
      advert?: string;
      id?: number;
      result?: unknown;
      error?: string;
      psiDone?: Proc['psiDone'][number];
    };
    if (v.node) {
      proc.node = v.node;
      proc.advert = v.advert;
    }
    if (v.id !== undefined) proc.answers.set(v.id, v);
    if (v.psiDone) proc.psiDone.push(v.psiDone);
  });
  procs.push(proc);
  return proc;
}

/** Sends a command and waits for its answer; a command that fails fails the test with its error. */
async function ask<R>(proc: Proc, command: Record<string, unknown>, timeout = 30_000): Promise<R> {
  const id = nextId++;
  proc.child.stdin?.write(`${JSON.stringify({ id, ...command })}\n`);
  await expect.poll(() => proc.answers.has(id), { timeout }).toBe(true);
  const answer = proc.answers.get(id) as { result?: unknown; error?: string };
  if (answer.error !== undefined) throw new Error(`${String(command.cmd)} failed: ${answer.error}`);
  return answer.result as R;
}

afterAll(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await once(p.child, 'exit');
    }
  }
});

describe('inter-domain discovery across node processes over TLS', () => {
  it('10 processes in 4 domains: an outsider looks a domain up and its anycast is answered; PSI is exact', async () => {
    const p = Array.from({ length: 10 }, start);
    await expect.poll(() => p.every((x) => x.node !== undefined), { timeout: 60_000 }).toBe(true);
    const id = (i: number) => p[i]?.node as NodeId;
    // Each node knows the adverts of its ring neighbours (and trusts them): everything else it learns.
    const n = p.length;
    await Promise.all(
      p.map((x, i) => {
        const near = [i + 1, i + 2, i + n - 1].map((j) => p[j % n] as Proc);
        return ask(x, {
          cmd: 'introduce',
          adverts: near.map((y) => y.advert),
          trusted: near.map((y) => y.node),
        });
      }),
    );

    // Four domains of sizes 3, 2, 3, 3: p1 and p4 are in two each; p9 is in none.
    const layout: [owner: number, members: number[]][] = [
      [0, [1, 2]],
      [3, [4]],
      [5, [6, 1]],
      [7, [8, 4]],
    ];
    const domains: DomainId[] = [];
    const membersOf = new Map<DomainId, NodeId[]>();
    for (const [k, [owner, members]] of layout.entries()) {
      const made = await ask<{ domain: DomainId; ticket: string }>(p[owner] as Proc, {
        cmd: 'create',
        name: `d${k}`,
      });
      for (const m of members) await ask(p[m] as Proc, { cmd: 'join', ticket: made.ticket });
      domains.push(made.domain);
      membersOf.set(made.domain, [owner, ...members].map(id));
    }

    // Gossip starts with the ring neighbours.
    await Promise.all(
      p.map((x, i) => ask(x, { cmd: 'gossip', peers: [id((i + 1) % n), id((i + n - 1) % n)] })),
    );
    const outsider = p[9] as Proc;
    type Views = { view: NodeId[]; samples: NodeId[]; cluster: { node: NodeId }[] };
    await expect
      .poll(async () => (await ask<Views>(outsider, { cmd: 'views' })).view.length, { timeout: 30_000 })
      .toBeGreaterThan(0);

    // The outsider, in no domain, finds members of d2 by lookup ...
    const target = domains[2] as DomainId;
    const found = await ask<{ members: NodeId[]; hops: number; path: NodeId[]; advert?: string }>(outsider, {
      cmd: 'lookup',
      domain: target,
    });
    expect(found.members.length).toBeGreaterThan(0);
    for (const m of found.members) expect(membersOf.get(target)).toContain(m);
    expect(found.path[0]).toBe(outsider.node);
    expect(found.advert).toBe(target);
    process.stdout.write(
      `${JSON.stringify({ lookup: { hops: found.hops, members: found.members.length } })}\n`,
    );

    // ... and an anycast request to d3, which it knows nothing of yet, is answered by a member.
    const other = domains[3] as DomainId;
    const served = await ask<{ servedBy: NodeId }>(outsider, { cmd: 'request', domain: other });
    expect(membersOf.get(other)).toContain(served.servedBy);

    // PSI between two real nodes: p1 is in d0 and d2, p2 in d0 only, p4 in d1 and d3.
    const p1 = p[1] as Proc;
    const p2 = p[2] as Proc;
    expect(await ask<string[]>(p1, { cmd: 'psi', peer: id(2) })).toEqual([domains[0]]);
    await expect
      .poll(() => p2.psiDone.find((e) => e.peer === id(1) && e.role === 'responder')?.shared)
      .toEqual([domains[0]]);
    expect(await ask<string[]>(p1, { cmd: 'psi', peer: id(4) })).toEqual([]);
  }, 240_000);
});
