import type { NodeId } from '@netmachine/core';
import { describe, expect, it } from 'vitest';
import { SharedLinks } from '../src/index.js';

describe('SharedLinks', () => {
  it('keeps a link while any owner wants it and closes it when the last lets go', async () => {
    const calls: string[] = [];
    const links = new SharedLinks({
      connect: async (node, options) => {
        calls.push(`connect ${node} ${options?.permanent}`);
      },
      disconnect: async (node) => {
        calls.push(`disconnect ${node}`);
      },
    });
    const a = {};
    const b = {};
    const node = 'n1' as NodeId;
    await links.want(a, node);
    await links.want(b, node);
    expect(links.owners(node)).toBe(2);
    links.release(a, node);
    links.release(a, node); // twice: no effect
    expect(calls).toEqual(['connect n1 true', 'connect n1 true']);
    links.releaseAll(b);
    expect(links.owners(node)).toBe(0);
    expect(calls).toEqual(['connect n1 true', 'connect n1 true', 'disconnect n1']);
  });
});
