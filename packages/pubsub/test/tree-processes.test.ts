import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const script = fileURLToPath(new URL('./fixtures/tree-member-process.ts', import.meta.url));
/** Neighbours per member: with 6 members, some are not linked to the publisher (2 could close a partition). */
const ACTIVE_VIEW = 3;

interface Progress {
  received: number;
  inOrder: boolean;
  lastSeq: number;
  cursor: number;
  linkedToPublisher: boolean;
  view: string[];
}

interface Member {
  child: ChildProcess;
  readonly seedHex: string;
  readonly dir: string;
  node?: string;
  ticket?: string;
  joined: boolean;
  subscribed: boolean;
  advert?: string;
  published: number;
  progress?: Progress;
  /** The last cursor the member saved to its file. */
  saved?: number;
  /** Every time a progress line showed no link to the publisher while events were flowing. */
  unlinkedWhileReceiving: boolean;
  errors: string[];
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function launch(member: Member, role: 'seed' | 'member', ticket?: string): void {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@netmachine/source',
      '--import',
      'tsx',
      script,
      role,
      member.seedHex,
      member.dir,
      String(ACTIVE_VIEW),
      ...(ticket ? [ticket] : []),
    ],
    { cwd: packageDir, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  children.push(child);
  member.child = child;
  member.joined = false;
  member.subscribed = false;
  member.progress = undefined;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    const v = JSON.parse(line) as Record<string, unknown> & { type: string };
    if (v.type === 'ready') member.node = v.node as string;
    else if (v.type === 'ticket') member.ticket = v.ticket as string;
    else if (v.type === 'joined') member.joined = true;
    else if (v.type === 'subscribed') member.subscribed = true;
    else if (v.type === 'advert') member.advert = v.advert as string;
    else if (v.type === 'published') member.published += v.count as number;
    else if (v.type === 'error') member.errors.push(v.message as string);
    else if (v.type === 'saved') {
      const positions = Object.values(v.positions as Record<string, { cursor: number }>);
      member.saved = positions[0]?.cursor;
    } else if (v.type === 'progress') {
      const p = v as unknown as Progress;
      if (!p.linkedToPublisher && p.received > 0 && p.received < (member.progress?.received ?? 0) + 1e9)
        if (member.progress !== undefined && p.received > member.progress.received)
          member.unlinkedWhileReceiving = true;
      member.progress = p;
      if (process.env.TREE_DEBUG) process.stderr.write(`${member.node?.slice(0, 6)} ${line}\n`);
    }
  });
}

async function newMember(): Promise<Member> {
  const dir = await mkdtemp(join(tmpdir(), 'tree-member-'));
  dirs.push(dir);
  return {
    child: undefined as unknown as ChildProcess,
    seedHex: randomBytes(32).toString('hex'),
    dir,
    joined: false,
    subscribed: false,
    published: 0,
    unlinkedWhileReceiving: false,
    errors: [],
  };
}

const send = (m: Member, command: unknown): void => {
  m.child.stdin?.write(`${JSON.stringify(command)}\n`);
};

describe('a domain topic across 6 processes over TLS', () => {
  it('reaches subscribers with no link to the publisher, in order; a killed and restarted subscriber catches up', async () => {
    const subscribers: Member[] = [];
    for (let i = 0; i < 5; i++) subscribers.push(await newMember());
    const publisher = await newMember();
    const [seed, ...others] = subscribers as [Member, ...Member[]];
    launch(seed, 'seed');
    await expect.poll(() => seed.ticket, { timeout: 30_000 }).toBeDefined();
    for (const m of others) launch(m, 'member', seed.ticket);
    await expect.poll(() => others.every((m) => m.joined), { timeout: 60_000 }).toBe(true);
    // The publisher joins last, so it is a neighbour of at most ACTIVE_VIEW members (and the seed it joined by).
    launch(publisher, 'member', seed.ticket);
    await expect.poll(() => publisher.joined, { timeout: 60_000 }).toBe(true);
    await expect
      .poll(() => subscribers.every((m) => (m.progress?.view.length ?? 0) > 0), { timeout: 30_000 })
      .toBe(true);

    send(publisher, { cmd: 'topic' });
    await expect.poll(() => publisher.advert, { timeout: 10_000 }).toBeDefined();
    for (const m of subscribers) send(m, { cmd: 'subscribe', advert: publisher.advert });
    await expect.poll(() => subscribers.every((m) => m.subscribed), { timeout: 10_000 }).toBe(true);

    // Phase 1: every subscriber gets every event, in order.
    const phase1 = 3000;
    send(publisher, { cmd: 'publish', count: phase1 });
    await expect
      .poll(() => subscribers.map((m) => m.progress?.received), { timeout: 60_000 })
      .toEqual(subscribers.map(() => phase1));
    expect(subscribers.every((m) => m.progress?.inOrder && m.progress.lastSeq === phase1)).toBe(true);
    // Some subscriber took events while it had no connection to the publisher. (Who is linked at this
    // very moment is not asked: under load the overlay's shuffles can leave every subscriber briefly
    // connected to the publisher by the end of the phase.)
    expect(subscribers.some((m) => m.unlinkedWhileReceiving)).toBe(true);

    // Phase 2: a subscriber (not the seed, not linked to the publisher if one such is not the seed) is killed.
    const victim = (others.find((m) => m.progress?.linkedToPublisher === false) ??
      others.find((m) => m.unlinkedWhileReceiving) ??
      others[0]) as Member;
    // Its cursor file holds the position after phase 1 (cursors count batches, not events).
    const cursor = victim.progress?.cursor ?? 0;
    expect(cursor).toBeGreaterThan(0);
    await expect.poll(() => victim.saved, { timeout: 10_000 }).toBe(cursor);
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    const phase2 = 500;
    send(publisher, { cmd: 'publish', count: phase2 });
    const alive = subscribers.filter((m) => m !== victim);
    await expect
      .poll(() => alive.map((m) => m.progress?.received), { timeout: 60_000 })
      .toEqual(alive.map(() => phase1 + phase2));

    // Phase 3: it restarts with its key and cursor file, rejoins, and the next event shows it the gap.
    launch(victim, 'member', seed.ticket);
    await expect.poll(() => victim.joined, { timeout: 60_000 }).toBe(true);
    await expect.poll(() => (victim.progress?.view.length ?? 0) > 0, { timeout: 30_000 }).toBe(true);
    send(victim, { cmd: 'subscribe', advert: publisher.advert });
    await expect.poll(() => victim.subscribed, { timeout: 10_000 }).toBe(true);
    const phase3 = 10;
    send(publisher, { cmd: 'publish', count: phase3 });
    const total = phase1 + phase2 + phase3;
    await expect.poll(() => victim.progress?.lastSeq, { timeout: 30_000 }).toBe(total);
    expect(victim.progress?.received).toBe(phase2 + phase3);
    expect(victim.progress?.inOrder).toBe(true);
    await expect
      .poll(() => alive.map((m) => m.progress?.received), { timeout: 30_000 })
      .toEqual(alive.map(() => total));
    expect([...subscribers, publisher].flatMap((m) => m.errors)).toEqual([]);
  }, 240_000);
});
