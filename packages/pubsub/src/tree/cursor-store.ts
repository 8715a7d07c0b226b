import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StreamPosition } from './stream-receiver.js';

/** Where a subscriber keeps its per-publisher cursors across restarts. */
export interface CursorStore {
  load(): Promise<Map<string, StreamPosition>>;
  save(positions: ReadonlyMap<string, StreamPosition>): Promise<void>;
}

/** Cursors in one JSON file, replaced atomically (temp file + rename) on every save. */
export function fileCursorStore(path: string): CursorStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch {
        return new Map();
      }
      const out = new Map<string, StreamPosition>();
      try {
        const value = JSON.parse(text) as Record<string, unknown>;
        for (const [stream, p] of Object.entries(value)) {
          const { epoch, cursor } = (p ?? {}) as { epoch?: unknown; cursor?: unknown };
          if (Number.isSafeInteger(epoch) && Number.isSafeInteger(cursor))
            out.set(stream, { epoch: epoch as number, cursor: cursor as number });
        }
      } catch {
        // A damaged file: start afresh rather than refuse to start.
      }
      return out;
    },
    async save(positions) {
      await mkdir(dirname(path), { recursive: true });
      const temp = `${path}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify(Object.fromEntries(positions)));
      await rename(temp, path);
    },
  };
}
