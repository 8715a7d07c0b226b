import { join, resolve } from 'node:path';

/** Where a node keeps its files, all inside one state directory. */
export interface NodePaths {
  readonly dir: string;
  readonly key: string;
  readonly config: string;
  readonly identityStore: string;
  readonly blocks: string;
  readonly controlSocket: string;
}

export function nodePaths(dir: string, controlSocket = 'control.sock'): NodePaths {
  const root = resolve(dir);
  return {
    dir: root,
    key: join(root, 'node.key'),
    config: join(root, 'config.json'),
    identityStore: join(root, 'identity'),
    blocks: join(root, 'blocks'),
    controlSocket: resolve(root, controlSocket),
  };
}
