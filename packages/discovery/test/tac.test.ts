import { seededRng } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import {
  type PeerEntry,
  Tac,
  type TacConfig,
  type TacEvent,
  type TacMessage,
  type TacTimer,
} from '../src/index.js';
import { entry, filterOf, forged, Recorder, verify } from './helpers.js';

const similarity = (a: Uint8Array, b: Uint8Array) => {
  let both = 0;
  let either = 0;
  for (let i = 0; i < a.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const x = ((a[i] as number) >> bit) & 1;
      const y = ((b[i] as number) >> bit) & 1;
      both += x & y;
      either += x | y;
    }
  }
  return either === 0 ? 0 : both / either;
};

function tac(domains: string[], samples: PeerEntry[] = [], config: Partial<TacConfig> = {}) {
  const machine = new Tac(
    'me',
    seededRng(3),
    {
      advert: entry('me', filterOf(1, 2)),
      domains,
      verify,
      similarity,
      samples: (count) => samples.slice(0, count),
    },
    { psiPerRound: 1, ...config },
  );
  return { machine, out: new Recorder<TacMessage, TacTimer, TacEvent>() };
}

describe('TAC', () => {
  it('asks for the overlap with the most similar unchecked candidate, and clusters those that share a domain', () => {
    const { machine, out } = tac(['d1', 'd2']);
    const near = entry('near', filterOf(1, 2));
    const far = entry('far', filterOf(9));
    machine.handle(
      { type: 'message', from: 'x', message: { type: 'clusterReply', entries: [far, near, forged('f')] } },
      0,
      out,
    );
    expect(out.events).toEqual([{ type: 'psiWanted', entry: near }]);
    expect(machine.counters.forgedEntries).toBe(1);
    machine.handle({ type: 'command', command: { type: 'psiResult', entry: near, shared: ['d1'] } }, 0, out);
    expect(machine.membersOf('d1').map((e) => e.peer)).toEqual(['near']);
    // a peer already checked is not asked again
    out.clear();
    machine.handle(
      { type: 'message', from: 'x', message: { type: 'clusterReply', entries: [near] } },
      0,
      out,
    );
    expect(out.events).toEqual([]);
  });

  it('answers a cluster exchange with the entries closest to the initiator', () => {
    const { machine, out } = tac(['d1']);
    const a = entry('a', filterOf(5, 6));
    machine.handle({ type: 'command', command: { type: 'psiResult', entry: a, shared: ['d1'] } }, 0, out);
    const b = entry('b', filterOf(9));
    machine.handle({ type: 'command', command: { type: 'psiResult', entry: b, shared: ['d1'] } }, 0, out);
    machine.handle(
      { type: 'message', from: 'i', message: { type: 'cluster', entries: [entry('i', filterOf(5, 6))] } },
      0,
      out,
    );
    const reply = out.sent.find((s) => s.to === 'i')?.message;
    expect(reply?.type).toBe('clusterReply');
    expect(reply?.entries.map((e) => e.peer)).toEqual(['me', 'a', 'b']);
  });

  it('keeps the cluster view bounded, preferring neighbours that cover its domains', () => {
    const { machine, out } = tac(['d1', 'd2'], [], { clusterSize: 3, perDomain: 1 });
    for (let i = 0; i < 10; i++)
      machine.handle(
        { type: 'command', command: { type: 'psiResult', entry: entry(`p${i}`), shared: ['d1'] } },
        0,
        out,
      );
    machine.handle(
      { type: 'command', command: { type: 'psiResult', entry: entry('q'), shared: ['d2'] } },
      0,
      out,
    );
    expect(machine.cluster()).toHaveLength(3);
    expect(machine.coverage().get('d2')).toBe(1);
  });

  it('asks for a lookup for a domain with no neighbour, less and less often', () => {
    const { machine, out } = tac(['d1'], [], { lookupAfter: 2 });
    const asked: number[] = [];
    for (let period = 1; period <= 30; period++) {
      out.clear();
      machine.handle({ type: 'timer', timer: { type: 'cluster' } }, period * 1000, out);
      if (out.events.some((e) => e.type === 'lookupWanted')) asked.push(period);
    }
    // alone since period 1: asked 2 periods later, then after 2, 4, 8 periods
    expect(asked).toEqual([3, 5, 9, 17]);
  });
});
