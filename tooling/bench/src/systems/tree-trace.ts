import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeId } from '@netmachine/core';
import type { DomainPubSub } from '@netmachine/pubsub';

type PlumTree = NonNullable<ReturnType<DomainPubSub['tree']>>;
type PlumTreeInput = Parameters<PlumTree['handle']>[0];
type PlumTreeOutput = Parameters<PlumTree['handle']>[2];
type PlumTreeMessage = Parameters<PlumTreeOutput['send']>[1];

// BENCH_TREE_TRACE=<directory>: every PlumTree message a tree node takes in or sends, its graft timers
// and link changes, with the time (ms since the Unix epoch, comparable across the processes of one
// machine), and every 10 ms the transport's queue to each neighbour that has one. Written as one JSON
// line per record to `<directory>/<label>-<node>.jsonl` when the node closes; for finding out why a
// tree parent stops delivering.

export interface TreeTraceTarget {
  readonly machine: PlumTree;
  readonly node: NodeId;
  readonly label: string;
  /** Messages queued to `node` in the transport. */
  readonly queuedTo: (node: NodeId) => number;
  /** The tree's neighbours now. */
  readonly neighbours: () => readonly NodeId[];
  /** Times the forward gate held the tree engine so far. */
  readonly holds: () => number;
}

type TraceRecord = readonly [number, string, string, string, unknown?];

/** The id's batch number (its part after the last `/`), or the whole id for anything else. */
function numberOf(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

function summary(message: PlumTreeMessage): [string, unknown?] {
  switch (message.type) {
    case 'gossip':
    case 'reply':
      return [message.type, numberOf(message.id)];
    case 'ihave':
      return ['ihave', message.entries.map((entry) => numberOf(entry.id))];
    case 'graft':
    case 'want':
      return [message.type, message.ids.map(numberOf)];
    case 'prune':
      return ['prune'];
  }
}

const short = (node: string): string => node.slice(0, 8);

/** Most records a trace keeps in memory; later ones are counted, not kept (the file says how many). */
const MAX_RECORDS = 1_000_000;

/** Starts tracing `target` when BENCH_TREE_TRACE names a directory; returns the function that writes the trace. */
export function traceTree(target: TreeTraceTarget): () => void {
  const dir = process.env.BENCH_TREE_TRACE;
  if (!dir) return () => undefined;
  const kept: TraceRecord[] = [];
  let dropped = 0;
  const records = {
    push(record: TraceRecord): void {
      if (kept.length < MAX_RECORDS) kept.push(record);
      else dropped++;
    },
  };
  const machine = target.machine;
  const handle = machine.handle.bind(machine);
  machine.handle = (input: PlumTreeInput, now: number, out: PlumTreeOutput): void => {
    const at = Date.now();
    if (input.type === 'message') {
      const [type, detail] = summary(input.message);
      records.push([at, 'in', short(input.from), type, detail]);
    } else if (input.type === 'timer' && input.timer.type === 'graft') {
      records.push([at, 'timer', '', 'graft', [numberOf(input.timer.id), input.timer.attempt]]);
    } else if (input.type === 'command' && input.command.type !== 'broadcast') {
      const command = input.command;
      records.push([at, 'cmd', 'peer' in command ? short(command.peer) : '', command.type]);
    }
    handle(input, now, {
      ...out,
      send: (to, message) => {
        const [type, detail] = summary(message);
        records.push([Date.now(), 'out', short(to), type, detail]);
        out.send(to, message);
      },
      emit: (event) => {
        if (event.type === 'treeChanged') records.push([Date.now(), 'link', short(event.peer), event.link]);
        out.emit(event);
      },
    });
  };
  let holds = target.holds();
  const sampler = setInterval(() => {
    const queues: Record<string, number> = {};
    for (const peer of target.neighbours()) {
      const queued = target.queuedTo(peer);
      if (queued > 0) queues[short(peer)] = queued;
    }
    const nowHolds = target.holds();
    if (Object.keys(queues).length > 0 || nowHolds !== holds)
      records.push([Date.now(), 'queues', '', String(nowHolds - holds), queues]);
    holds = nowHolds;
  }, 10);
  sampler.unref();
  return () => {
    clearInterval(sampler);
    if (dropped > 0) kept.push([Date.now(), 'dropped', '', String(dropped)]);
    const lines = kept.map((record) => JSON.stringify(record)).join('\n');
    writeFileSync(join(dir, `${target.label}-${short(target.node)}.jsonl`), `${lines}\n`);
  };
}
