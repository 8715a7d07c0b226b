// The map page's static files (HTML, CSS, the client script) are served as files, not compiled: copy them.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/map/assets', import.meta.url), new URL('../dist/map/assets', import.meta.url), {
  recursive: true,
});
