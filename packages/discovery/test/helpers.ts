import type { MachineOutput } from '@netmachine/overlay';
import type { PeerEntry } from '../src/index.js';

/** A sink that records what a machine pushed. */
export class Recorder<M, T, E> implements MachineOutput<M, T, E> {
  readonly sent: { to: string; message: M }[] = [];
  readonly timers: { timer: T; after: number }[] = [];
  readonly events: E[] = [];
  send(to: string, message: M): void {
    this.sent.push({ to, message });
  }
  connect(): void {}
  disconnect(): void {}
  setTimer(timer: T, after: number): void {
    this.timers.push({ timer, after });
  }
  emit(event: E): void {
    this.events.push(event);
  }
  clear(): void {
    this.sent.length = 0;
    this.timers.length = 0;
    this.events.length = 0;
  }
}

const SIGNED = new Uint8Array([1, 2, 3, 4]);

/** An entry whose signature the test `verify` accepts (a filter of `bits` set bits). */
export function entry(peer: string, filter: Uint8Array = new Uint8Array(16), age = 0): PeerEntry {
  return { peer, filter, signature: SIGNED, age };
}

/** An entry with a bad signature. */
export function forged(peer: string): PeerEntry {
  return { peer, filter: new Uint8Array(16), signature: new Uint8Array([9, 9, 9, 9]), age: 0 };
}

export const verify = (e: PeerEntry): boolean => e.signature.length === 4 && e.signature[0] === 1;

/** A filter with the given bits set. */
export function filterOf(...bits: number[]): Uint8Array {
  const f = new Uint8Array(16);
  for (const b of bits) f[b >> 3] = (f[b >> 3] as number) | (1 << (b & 7));
  return f;
}
