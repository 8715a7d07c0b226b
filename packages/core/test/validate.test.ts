import { describe, expect, it } from 'vitest';
import {
  expectArray,
  expectBoolean,
  expectBytes,
  expectPlainValue,
  expectString,
  expectUint,
  optional,
  SchemaError,
} from '../src/index.js';
import { thrown } from './helpers.js';

function schemaError(fn: () => unknown): SchemaError {
  const error = thrown(fn);
  expect(error).toBeInstanceOf(SchemaError);
  return error as SchemaError;
}

describe('expectArray', () => {
  it('accepts arrays within the element bounds', () => {
    const value = [1, 2];
    expect(expectArray(value, 'x', 2, 2)).toBe(value);
    expect(expectArray([], 'x', 0, 3)).toEqual([]);
  });

  it('rejects non-arrays and the wrong number of elements, naming the path', () => {
    expect(schemaError(() => expectArray({ length: 1 }, 'a.b', 0, 5)).path).toBe('a.b');
    expect(schemaError(() => expectArray('ab', 'x', 0, 5)).problem).toBe('expected an array');
    expect(schemaError(() => expectArray([1], 'x', 2, 3)).problem).toMatch(/2\.\.3 elements, got 1/);
    schemaError(() => expectArray([1, 2, 3, 4], 'x', 2, 3));
    schemaError(() => expectArray(new Uint8Array(2), 'x', 0, 5));
  });
});

describe('expectString', () => {
  it('accepts strings within the length bounds', () => {
    expect(expectString('abc', 'x', 3)).toBe('abc');
    expect(expectString('', 'x', 3)).toBe('');
    expect(expectString('a', 'x', 3, 1)).toBe('a');
  });

  it('rejects non-strings and strings outside the bounds', () => {
    schemaError(() => expectString(1, 'x', 3));
    schemaError(() => expectString(null, 'x', 3));
    schemaError(() => expectString('abcd', 'x', 3));
    schemaError(() => expectString('', 'x', 3, 1));
  });
});

describe('expectUint', () => {
  it('accepts safe non-negative integers within the bounds', () => {
    expect(expectUint(0, 'x')).toBe(0);
    expect(expectUint(Number.MAX_SAFE_INTEGER, 'x')).toBe(Number.MAX_SAFE_INTEGER);
    expect(expectUint(255, 'x', 255)).toBe(255);
    expect(expectUint(5, 'x', 10, 5)).toBe(5);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', null, 10n])('rejects %s', (value) => {
    schemaError(() => expectUint(value, 'x'));
  });

  it('rejects values outside [min, max]', () => {
    schemaError(() => expectUint(256, 'x', 255));
    schemaError(() => expectUint(4, 'x', 10, 5));
  });
});

describe('expectBytes', () => {
  it('accepts byte arrays, Buffers included, of the required length', () => {
    const bytes = new Uint8Array(4);
    expect(expectBytes(bytes, 'x')).toBe(bytes);
    expect(expectBytes(Buffer.alloc(4), 'x', 4)).toHaveLength(4);
    expect(expectBytes(new Uint8Array(0), 'x', undefined, 0)).toHaveLength(0);
  });

  it('rejects other types and wrong lengths', () => {
    schemaError(() => expectBytes([1, 2], 'x'));
    schemaError(() => expectBytes('ab', 'x'));
    schemaError(() => expectBytes(new Uint16Array(2), 'x'));
    schemaError(() => expectBytes(new Uint8Array(3), 'x', 4));
    schemaError(() => expectBytes(new Uint8Array(5), 'x', undefined, 4));
  });
});

describe('expectBoolean and optional', () => {
  it('accepts only booleans', () => {
    expect(expectBoolean(true, 'x')).toBe(true);
    expect(expectBoolean(false, 'x')).toBe(false);
    schemaError(() => expectBoolean(0, 'x'));
    schemaError(() => expectBoolean('true', 'x'));
  });

  it('reads null and undefined as absent and validates anything else', () => {
    const read = (v: unknown) => expectUint(v, 'x');
    expect(optional(null, read)).toBeUndefined();
    expect(optional(undefined, read)).toBeUndefined();
    expect(optional(0, read)).toBe(0);
    schemaError(() => optional('1', read));
  });
});

describe('expectPlainValue', () => {
  it('accepts msgpack plain values', () => {
    const value = {
      a: [1, 'x', null, true, 1.5, undefined],
      b: new Uint8Array(2),
      c: new Date(0),
      d: Object.create(null),
    };
    expect(expectPlainValue(value, 'body')).toBe(value);
    expect(expectPlainValue(7, 'body')).toBe(7);
  });

  it.each([
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a bigint', 5n],
    ['a Map', new Map()],
    ['a Set', new Set()],
    ['a class instance', new (class Thing {})()],
    ['an Error', new Error('x')],
    ['a RegExp', /x/],
    ['a typed array other than bytes', new Float32Array(1)],
    ['a nested function', { a: [{ b: () => 1 }] }],
  ])('rejects %s', (_label, value) => {
    expect(schemaError(() => expectPlainValue(value, 'body')).path).toBe('body');
  });

  it('bounds the nesting depth and the element count', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5; i++) deep = [deep];
    expect(expectPlainValue(deep, 'x', 5)).toBe(deep);
    deep = [deep];
    schemaError(() => expectPlainValue(deep, 'x', 5));
    expect(expectPlainValue([1, 2, 3], 'x', 32, 4)).toEqual([1, 2, 3]);
    schemaError(() => expectPlainValue([1, 2, 3, 4], 'x', 32, 4));
  });

  it('stops on a cyclic value at the element bound instead of looping', () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    schemaError(() => expectPlainValue(cyclic, 'x', Number.MAX_SAFE_INTEGER, 1000));
  });
});
