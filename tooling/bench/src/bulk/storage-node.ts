import { join } from 'node:path';
import { createNode } from '@netmachine/node';
import { storage } from '@netmachine/storage';
import { tls } from '@netmachine/transport-tls';

/** A node over TLS on 127.0.0.1 with the storage service (lmdb under `dir`), as a user would build it. */
export async function startStorageNode(dir: string) {
  const node = await createNode({
    transports: [tls()],
    listen: ['tls://127.0.0.1:0'],
    requestTimeoutMs: 60_000,
    services: { storage: storage({ path: join(dir, 'storage'), gcIntervalMs: 0 }) },
  });
  await node.start();
  return node;
}

/**
 * CPU seconds (user + system) a process (all its threads), or one of its threads, has used so far,
 * where /proc tells it (10 ms resolution); undefined elsewhere.
 */
export async function cpuSeconds(pid: number | undefined, thread?: number): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const { readFile } = await import('node:fs/promises');
  try {
    const path = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
    const stat = await readFile(path, 'utf8');
    // Fields 14 and 15 of the stat file, counted after the command name (which may hold spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

/** Minor page faults a process (all its threads) has taken so far, where /proc tells it; undefined elsewhere. */
export async function minorFaults(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const { readFile } = await import('node:fs/promises');
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 10 of the stat file (minflt), counted after the command name.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[7]);
  } catch {
    return undefined;
  }
}
