import type { EngineMessage } from '@netmachine/core';

/** A small unsigned message with a 10-byte body: what the frame-slab tests append and vary. */
export const plainMessage: EngineMessage = {
  id: 1,
  src: { node: 'a' as never, name: 'src' },
  dst: { node: 'b' as never, name: 'dst' },
  replyTo: undefined,
  expiry: undefined,
  protocol: 'p',
  body: new Uint8Array(10),
  sig: undefined,
};
