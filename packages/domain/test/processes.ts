import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DomainId, NodeId } from '@netmachine/core';
import { expect } from 'vitest';
import { parseDomainTicket } from '../src/index.js';
import { type DomainNode, startDomainNode } from './fixtures/tls-node.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/member-process.ts', import.meta.url));

export interface MemberProcess {
  readonly child: ChildProcess;
  node: NodeId | undefined;
  ticket: string | undefined;
  joined: boolean;
  view: NodeId[];
  killed: boolean;
}

function startMember(role: 'seed' | 'member', ticket?: string): MemberProcess {
  const child = spawn(
    process.execPath,
    ['--conditions=@netmachine/source', '--import', 'tsx', script, role, ...(ticket ? [ticket] : [])],
    { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const member: MemberProcess = {
    child,
    node: undefined,
    ticket: undefined,
    joined: false,
    view: [],
    killed: false,
  };
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const value = JSON.parse(line) as { node: NodeId; ticket?: string; joined?: boolean; view?: NodeId[] };
    member.node = value.node;
    if (value.ticket) member.ticket = value.ticket;
    if (value.joined) member.joined = true;
    if (value.view) member.view = value.view;
  });
  return member;
}

export interface AnycastRun {
  readonly requests: number;
  readonly answered: number;
  readonly killed: NodeId[];
  readonly servedBy: Map<NodeId, number>;
  readonly failovers: number;
}

/**
 * Starts `count` member processes (one seed, the rest join through it), then a non-member in this
 * process sends anycast requests, `inFlight` at a time; after every `killEvery` answers the member
 * that served the last one is killed with SIGKILL, `kills` times. Every request must be answered, and the
 * survivors' views must drop the dead and stay connected.
 */
export async function runAnycastScenario(options: {
  count: number;
  kills: number;
  killEvery: number;
  requestsAfter: number;
  inFlight: number;
}): Promise<AnycastRun> {
  const members: MemberProcess[] = [];
  let outsider: DomainNode | undefined;
  try {
    const seed = startMember('seed');
    members.push(seed);
    await expect.poll(() => seed.ticket, { timeout: 30_000 }).toBeDefined();
    for (let i = 1; i < options.count; i++) members.push(startMember('member', seed.ticket));
    await expect
      .poll(() => members.filter((m) => m.joined).length, { timeout: 60_000 })
      .toBe(options.count - 1);
    // Every member has peers in its active view.
    await expect.poll(() => members.every((m) => m.view.length > 0), { timeout: 30_000 }).toBe(true);

    outsider = await startDomainNode();
    const domain: DomainId = parseDomainTicket(seed.ticket as string).advert.id;
    await outsider.domains.know(seed.ticket as string);
    await expect
      .poll(() => outsider?.domains.members(domain).length, { timeout: 30_000 })
      .toBe(options.count);
    const client = outsider.router.client('app');
    const servedBy = new Map<NodeId, number>();
    const killed: NodeId[] = [];
    let requests = 0;
    let answered = 0;
    const total = options.kills * options.killEvery + options.requestsAfter;
    // `inFlight` requesters at once: a kill lands while requests to the victim are on their way.
    const requester = async (): Promise<void> => {
      while (requests < total) {
        requests++;
        const killedBefore = [...killed];
        // An anycast request tries each member once: the per-attempt time is what a live member has to
        // answer in, on a machine that also runs the member processes (1 s left little room under load).
        const reply = await client.request<{ servedBy: NodeId }>({ domain, name: 'search' }, requests, {
          timeoutMs: 10_000,
          attemptTimeoutMs: 3000,
        });
        answered++;
        const server = reply.body.servedBy;
        expect(reply.src.node).toBe(server);
        expect(killedBefore).not.toContain(server);
        servedBy.set(server, (servedBy.get(server) ?? 0) + 1);
        if (killed.length < options.kills && answered >= (killed.length + 1) * options.killEvery) {
          const victim = members.find((m) => m.node === server) as MemberProcess;
          if (victim.killed) continue;
          victim.killed = true;
          victim.child.kill('SIGKILL');
          killed.push(server);
        }
      }
    };
    await Promise.all(Array.from({ length: options.inFlight }, requester));
    // The survivors' views repair: no dead peer left, every survivor still has a live neighbour.
    const survivors = members.filter((m) => !m.killed);
    await expect
      .poll(() => survivors.every((m) => m.view.length > 0 && m.view.every((n) => !killed.includes(n))), {
        timeout: 30_000,
      })
      .toBe(true);
    return { requests, answered, killed, servedBy, failovers: outsider.router.anycastCounters.failovers };
  } finally {
    await outsider?.stop();
    for (const m of members) {
      if (m.child.exitCode === null && m.child.signalCode === null) {
        m.child.kill('SIGKILL');
        await once(m.child, 'exit');
      }
    }
  }
}
