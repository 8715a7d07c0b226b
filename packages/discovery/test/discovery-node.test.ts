import { seededRng } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import {
  type DiscoveryConfig,
  type DiscoveryEvent,
  type DiscoveryMessage,
  DiscoveryNode,
  type DiscoveryTimer,
} from '../src/index.js';
import { entry, filterOf, Recorder, verify } from './helpers.js';

function node(config: Partial<DiscoveryConfig> = {}) {
  const machine = new DiscoveryNode(
    'me',
    seededRng(9),
    {
      advert: entry('me', filterOf(1)),
      domains: ['d1'],
      verify,
      trust: (peer) => (peer === 't' ? 1 : 0),
      similarity: () => 0,
      domainFilter: () => filterOf(5),
    },
    config,
  );
  return { machine, out: new Recorder<DiscoveryMessage, DiscoveryTimer, DiscoveryEvent>() };
}

describe('DiscoveryNode', () => {
  it('opted out, sends nothing and drops everything it is handed', () => {
    const { machine, out } = node({ optedOut: true });
    machine.handle({ type: 'command', command: { type: 'join', entries: [entry('t')] } }, 0, out);
    machine.handle(
      { type: 'message', from: 's', message: { type: 'shuffle', entries: [entry('s')] } },
      0,
      out,
    );
    machine.handle(
      {
        type: 'message',
        from: 's',
        message: { type: 'lookup', id: 'q', domain: 'd1', target: filterOf(1), path: ['s'] },
      },
      0,
      out,
    );
    expect(out.sent).toEqual([]);
    expect(out.timers).toEqual([]);
    expect(machine.ignored).toBe(3);
    expect(machine.taps.view()).toEqual([]);
  });

  it('routes each message to its machine and starts TAPS, TAC and announcing on join', () => {
    const { machine, out } = node();
    machine.handle({ type: 'command', command: { type: 'join', entries: [entry('t')] } }, 0, out);
    expect(out.timers.map((t) => t.timer.to).sort()).toEqual(['routing', 'tac', 'taps']);
    machine.handle(
      { type: 'message', from: 't', message: { type: 'shuffle', entries: [entry('t'), entry('x')] } },
      0,
      out,
    );
    expect(out.sent.at(-1)?.message.type).toBe('shuffleReply');
    machine.handle(
      {
        type: 'message',
        from: 'o',
        message: { type: 'lookup', id: 'q', domain: 'd1', target: filterOf(1), path: ['o'] },
      },
      0,
      out,
    );
    expect(out.sent.at(-1)).toMatchObject({ to: 'o', message: { type: 'lookupReply', id: 'q' } });
  });

  it('looks up a domain TAC has no neighbour for, and hands the members found to TAC to check', () => {
    const { machine, out } = node({ tac: { lookupAfter: 1 } });
    machine.handle({ type: 'command', command: { type: 'join', entries: [entry('t')] } }, 0, out);
    out.clear();
    machine.handle({ type: 'timer', timer: { to: 'tac', timer: { type: 'cluster' } } }, 1000, out);
    machine.handle({ type: 'timer', timer: { to: 'tac', timer: { type: 'cluster' } } }, 2000, out);
    const lookup = out.sent.find((s) => s.message.type === 'lookup');
    expect(lookup?.to).toBe('t');
    const id = lookup?.message.type === 'lookup' ? lookup.message.id : '';
    out.clear();
    machine.handle(
      {
        type: 'message',
        from: 'm',
        message: { type: 'lookupReply', id, domain: 'd1', members: [entry('m')], path: ['me', 't', 'm'] },
      },
      2100,
      out,
    );
    // the answer to an internal lookup is not an application event: TAC asks for the overlap instead
    expect(out.events).toEqual([{ type: 'psiWanted', entry: entry('m') }]);
  });
});
