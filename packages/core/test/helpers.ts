/**
 * Shared test helpers. Decoded byte fields are Buffers (views into the frame) while values built in
 * memory hold plain Uint8Arrays; vitest's toEqual tells the two apart, so compare normalised copies.
 */
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
