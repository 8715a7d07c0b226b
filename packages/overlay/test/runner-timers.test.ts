import type { EngineContext, EngineRef, NodeId } from '@netmachine/core';
import { describe, expect, it, vi } from 'vitest';
import {
  type Machine,
  type ProtocolDefinition,
  ProtocolRunner,
  type RunnerRouter,
  type RunnerTransport,
} from '../src/index.js';

// When the runner's timers fire relative to the input the node has already read: a timer that comes
// due while the engine still has messages queued waits for them (a Graft timer must not fire for a
// payload that is waiting in this node's own mailbox), but not for ever.

type Timer = 'tick';

/** A machine that sets one timer on any command and records when it fires (`seen()` at that moment). */
function recordingProtocol(
  fired: string[],
  seen: () => number = () => 0,
): ProtocolDefinition<never, 'arm', Timer, never> {
  return {
    protocol: 'timer-test/1',
    decode: () => {
      throw new Error('no messages');
    },
    create: (self): Machine<never, 'arm', Timer, never> => ({
      self,
      handle(input, _now, out) {
        if (input.type === 'command') out.setTimer('tick', 0);
        if (input.type === 'timer') fired.push(`${input.timer}@${seen()}`);
      },
    }),
  };
}

interface Mailbox {
  /** Messages queued for each look, in turn (the last stays). */
  readonly queued: number[];
  looks: number;
}

/** A router whose one engine reports queued messages, look by look, and counts the looks. */
function fakeRouter(mailbox: Mailbox): RunnerRouter {
  return {
    node: 'self-node' as NodeId,
    client: () =>
      ({
        get queued() {
          const index = Math.min(mailbox.looks++, mailbox.queued.length - 1);
          return mailbox.queued[index];
        },
        send: () => undefined,
        stop: async () => undefined,
      }) as unknown as EngineContext & EngineRef,
  };
}

const transport: RunnerTransport = {
  connect: async () => undefined,
  disconnect: async () => undefined,
  events: { on: () => () => undefined },
};

describe('ProtocolRunner timers', () => {
  it('fires a due timer only once the messages queued for the engine are handled', async () => {
    const fired: string[] = [];
    // Messages wait at the first two looks; the third finds the mailbox empty.
    const mailbox: Mailbox = { queued: [3, 1, 0], looks: 0 };
    const runner = new ProtocolRunner({
      protocol: recordingProtocol(fired, () => mailbox.looks),
      router: fakeRouter(mailbox),
      transport,
    });
    await runner.start();
    runner.command('arm');
    // Fired once, right after the look that found the mailbox empty.
    await vi.waitFor(() => expect(fired).toEqual(['tick@3']));
    expect(runner.counters().timersFired).toBe(1);
    await runner.stop();
  });

  it('does not wait for a mailbox that never empties longer than a few turns', async () => {
    const fired: string[] = [];
    const mailbox: Mailbox = { queued: [1000], looks: 0 };
    const runner = new ProtocolRunner({
      protocol: recordingProtocol(fired, () => mailbox.looks),
      router: fakeRouter(mailbox),
      transport,
    });
    await runner.start();
    runner.command('arm');
    await vi.waitFor(() => expect(fired).toEqual(['tick@8']));
    await runner.stop();
  });
});
