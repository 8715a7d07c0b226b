import { SchemaError } from './errors.js';

/**
 * Small, fast validators for decoded wire values. Each throws a SchemaError naming the field path,
 * so a malformed value is never returned as a wrongly typed object.
 */

export function expectArray(value: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw new SchemaError(path, 'expected an array');
  if (value.length < min || value.length > max) {
    throw new SchemaError(path, `expected ${min}..${max} elements, got ${value.length}`);
  }
  return value;
}

export function expectString(value: unknown, path: string, maxLength: number, minLength = 0): string {
  if (typeof value !== 'string') throw new SchemaError(path, 'expected a string');
  if (value.length > maxLength || value.length < minLength) {
    throw new SchemaError(path, `expected ${minLength}..${maxLength} characters, got ${value.length}`);
  }
  return value;
}

/** A non-negative safe integer within [min, max]. */
export function expectUint(value: unknown, path: string, max = Number.MAX_SAFE_INTEGER, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw new SchemaError(path, 'expected an integer');
  if (value < min || value > max) throw new SchemaError(path, `expected ${min}..${max}, got ${value}`);
  return value;
}

export function expectBytes(
  value: unknown,
  path: string,
  length?: number,
  maxLength = Number.MAX_SAFE_INTEGER,
): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new SchemaError(path, 'expected bytes');
  if (length !== undefined && value.length !== length) {
    throw new SchemaError(path, `expected ${length} bytes, got ${value.length}`);
  }
  if (value.length > maxLength)
    throw new SchemaError(path, `expected at most ${maxLength} bytes, got ${value.length}`);
  return value;
}

export function expectBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw new SchemaError(path, 'expected a boolean');
  return value;
}

/** `null` and `undefined` both read as absent (msgpack has only nil). */
export function optional<T>(value: unknown, read: (value: unknown) => T): T | undefined {
  return value === null || value === undefined ? undefined : read(value);
}

/**
 * Checks a free-form body value: bounded nesting depth and element count, and only msgpack's
 * plain types (no functions, no class instances other than byte arrays and dates).
 */
export function expectPlainValue(
  value: unknown,
  path: string,
  maxDepth = 32,
  maxElements = 100_000,
): unknown {
  let elements = 0;
  const walk = (node: unknown, depth: number): void => {
    if (++elements > maxElements) throw new SchemaError(path, `more than ${maxElements} elements`);
    if (node === null || typeof node !== 'object') {
      // bigint only comes from msgpackr's BigInt extension, which plain msgpack never carries.
      if (typeof node === 'function' || typeof node === 'symbol' || typeof node === 'bigint')
        throw new SchemaError(path, 'not a plain value');
      return;
    }
    if (node instanceof Uint8Array || node instanceof Date) return;
    if (depth >= maxDepth) throw new SchemaError(path, `nested deeper than ${maxDepth}`);
    if (Array.isArray(node)) {
      for (const item of node) walk(item, depth + 1);
      return;
    }
    const proto = Object.getPrototypeOf(node);
    if (proto !== Object.prototype && proto !== null) throw new SchemaError(path, 'not a plain value');
    for (const key in node) walk((node as Record<string, unknown>)[key], depth + 1);
  };
  walk(value, 0);
  return value;
}
