import { seededRng } from '@netmachine/overlay';
import { describe, expect, it } from 'vitest';
import { type PeerEntry, Taps, type TapsMessage, type TapsTimer } from '../src/index.js';
import { entry, forged, Recorder, verify } from './helpers.js';

function taps(trusted: readonly string[], config = {}) {
  const set = new Set(trusted);
  const machine = new Taps(
    'self',
    seededRng(1),
    { advert: entry('self'), verify, trust: (peer) => (set.has(peer) ? 1 : 0) },
    { viewSize: 8, exchangeSize: 4, ...config },
  );
  const out = new Recorder<TapsMessage, TapsTimer, never>();
  return { machine, out };
}

const ids = (entries: readonly PeerEntry[]) => entries.map((e) => e.peer).sort();

describe('TAPS', () => {
  it('rejects and counts forged entries, and never feeds them to URPS', () => {
    const { machine, out } = taps(['t1']);
    machine.handle({ type: 'command', command: { type: 'join', entries: [entry('t1')] } }, 0, out);
    machine.handle(
      {
        type: 'message',
        from: 't1',
        message: { type: 'shuffle', entries: [entry('t1'), forged('evil'), entry('a')] },
      },
      0,
      out,
    );
    expect(machine.counters.forgedEntries).toBe(1);
    expect(ids(machine.view())).toEqual(['a', 't1']);
    expect(machine.sampler?.has('evil')).toBe(false);
  });

  it('takes only a stranger’s own entry: what it says about others is ignored and counted', () => {
    const { machine, out } = taps(['t1']);
    machine.handle(
      {
        type: 'message',
        from: 's',
        message: { type: 'shuffle', entries: [entry('s'), entry('x'), entry('y')] },
      },
      0,
      out,
    );
    expect(ids(machine.view())).toEqual(['s']);
    expect(machine.counters.strangerRelaysIgnored).toBe(2);
    // It is answered all the same, with the node's own entry first.
    expect(out.sent[0]?.to).toBe('s');
    expect(out.sent[0]?.message.entries[0]?.peer).toBe('self');
  });

  it('keeps the view bounded and strangers to their share of it however many push', () => {
    const { machine, out } = taps(['t1'], { strangersPerPeriod: 100, maxOffersPerPeriod: 1000 });
    machine.handle({ type: 'command', command: { type: 'join', entries: [entry('t1')] } }, 0, out);
    for (let i = 0; i < 200; i++)
      machine.handle(
        { type: 'message', from: `s${i}`, message: { type: 'shuffle', entries: [entry(`s${i}`)] } },
        0,
        out,
      );
    expect(machine.view().length).toBeLessThanOrEqual(8);
    expect(machine.untrustedInView).toBeLessThanOrEqual(2); // 25 % of 8
    expect(ids(machine.view())).toContain('t1'); // a trusted peer is never pushed out
  });

  it('answers a bounded number of strangers per period and counts the rest as refused', () => {
    const { machine, out } = taps([], { maxOffersPerPeriod: 3 });
    for (let i = 0; i < 10; i++)
      machine.handle(
        { type: 'message', from: `s${i}`, message: { type: 'shuffle', entries: [entry(`s${i}`)] } },
        0,
        out,
      );
    expect(out.sent).toHaveLength(3);
    expect(machine.counters.offersRefused).toBe(7);
    // A new period opens the budget again.
    machine.handle({ type: 'timer', timer: { type: 'shuffle' } }, 1000, out);
    out.clear();
    machine.handle(
      { type: 'message', from: 'late', message: { type: 'shuffle', entries: [entry('late')] } },
      1000,
      out,
    );
    expect(out.sent.map((s) => s.to)).toEqual(['late']);
  });

  it('relays third parties from a trusted peer, at most its quota of the view', () => {
    const { machine, out } = taps(['t1'], { perRelayQuota: 2, viewSize: 8, exchangeSize: 8 });
    machine.handle({ type: 'command', command: { type: 'join', entries: [entry('t1')] } }, 0, out);
    const offer = ['t1', 'a', 'b', 'c', 'd', 'e'].map((p) => entry(p));
    machine.handle({ type: 'message', from: 't1', message: { type: 'shuffle', entries: offer } }, 0, out);
    const view = ids(machine.view());
    expect(view).toContain('t1');
    expect(view.filter((p) => p !== 't1')).toHaveLength(2);
  });

  it('ignores a reply from a peer it has no exchange with', () => {
    const { machine, out } = taps(['t1']);
    machine.handle(
      { type: 'message', from: 't1', message: { type: 'shuffleReply', entries: [entry('x')] } },
      0,
      out,
    );
    expect(machine.counters.unsolicitedReplies).toBe(1);
    expect(machine.view()).toEqual([]);
  });

  it('as plain Cyclon (the baseline) takes everything a stranger sends', () => {
    const { machine, out } = taps([], { trustAware: false, urps: false });
    machine.handle(
      {
        type: 'message',
        from: 's',
        message: { type: 'shuffle', entries: [entry('s'), entry('x'), entry('y')] },
      },
      0,
      out,
    );
    expect(ids(machine.view())).toEqual(['s', 'x', 'y']);
  });

  it('exchanges every period with its own fresh entry first, and merges the answer', () => {
    const { machine, out } = taps(['t1']);
    machine.handle(
      { type: 'command', command: { type: 'join', entries: [entry('t1'), entry('u')] } },
      0,
      out,
    );
    out.clear();
    machine.handle({ type: 'timer', timer: { type: 'shuffle' } }, 1000, out);
    const offer = out.sent[0];
    expect(offer?.message.type).toBe('shuffle');
    expect(offer?.message.entries[0]?.peer).toBe('self');
    const partner = offer?.to as string;
    machine.handle(
      {
        type: 'message',
        from: partner,
        message: { type: 'shuffleReply', entries: [entry(partner), entry('z')] },
      },
      1000,
      out,
    );
    expect(ids(machine.view())).toContain(partner);
    expect(out.timers.some((t) => t.after === 1000)).toBe(true);
  });
});
