// The replay page's script is inlined from a plain file at run time: copy it next to the compiled module.
import { copyFileSync, mkdirSync } from 'node:fs';

mkdirSync(new URL('../dist/replay/', import.meta.url), { recursive: true });
copyFileSync(
  new URL('../src/replay/replay.js', import.meta.url),
  new URL('../dist/replay/replay.js', import.meta.url),
);
