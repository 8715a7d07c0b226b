/**
 * Shared test helpers. Decoded byte fields are Buffers (views into the frame) while values built in
 * memory hold plain Uint8Arrays; vitest's toEqual tells the two apart, so compare normalised copies.
 */

import { NetmachineError } from '../src/index.js';
export function normalise<T>(value: T): T {
  if (value instanceof Uint8Array) return new Uint8Array(value) as T;
  if (Array.isArray(value)) return value.map(normalise) as T;
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = normalise(item);
    return out as T;
  }
  return value;
}

/** Runs `fn` and returns what it threw; fails when it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

/**
 * Every decoder, fed random or damaged input, must either return a value of its declared type or
 * throw a NetmachineError: never another exception, never a wrongly typed object.
 */
export function decodesOrRejects<T>(decode: () => T, check: (value: T) => void): void {
  let value: T;
  try {
    value = decode();
  } catch (error) {
    if (!(error instanceof NetmachineError)) throw error;
    return;
  }
  check(value);
}

// Independent checks of the declared types, written without core's validators.
export const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
