import { EventEmitter } from 'node:events';
import type { Link, SystemFactory } from './types.js';

/**
 * The floor of in-process dispatch: Node's EventEmitter delivering the same kind of object an engine
 * receives (a message record with source, destination, protocol and a 200-byte body).
 */
interface LocalMessage {
  readonly id: number;
  readonly src: { readonly node: string; readonly name: string };
  readonly dst: { readonly node: string; readonly name: string };
  readonly protocol: string;
  readonly body: Uint8Array;
}

export const eventEmitter: SystemFactory = async () => {
  const emitters = new Map<string, EventEmitter>();
  let nextId = 0;
  return {
    async listen({ onMessage }) {
      const name = `receiver-${emitters.size}`;
      const emitter = new EventEmitter();
      emitter.on('message', (message: LocalMessage) => onMessage(message.body));
      emitters.set(name, emitter);
      return {
        info: { name },
        close: async () => {
          emitter.removeAllListeners();
          emitters.delete(name);
        },
      };
    },
    async connect({ target }): Promise<Link> {
      const { name } = target as { name: string };
      const emitter = emitters.get(name);
      if (emitter === undefined) throw new Error(`no local receiver ${name}`);
      const src = { node: 'local', name: 'sender' };
      const dst = { node: 'local', name };
      return {
        send(body) {
          emitter.emit('message', {
            id: nextId++,
            src,
            dst,
            protocol: 'bench@1',
            body,
          } satisfies LocalMessage);
          return true;
        },
        drained: async () => {},
        close: async () => {},
      };
    },
  };
};
