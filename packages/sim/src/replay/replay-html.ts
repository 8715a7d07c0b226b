import { readFileSync } from 'node:fs';
import type { OverlayResult } from '../scenarios/overlay.js';

// One self-contained page (script, style and data inline; no network) that replays the first run
// of an overlay scenario: the sampled graph frame by frame and the figures over simulated time.

const script = () => readFileSync(new URL('./replay.js', import.meta.url), 'utf8');

/** How many nodes `--html` draws at most; the figures still cover every node. */
export const REPLAY_DRAWN_NODES = 400;

/** The replay page; `result` must come from a run with `recordFrames`. */
export function replayHtml(result: OverlayResult, options: { frameMs?: number } = {}): string {
  const run = result.runs[0];
  if (run?.frames === undefined) throw new RangeError('the overlay run recorded no frames (recordFrames)');
  const drawn = run.frames[0]?.state.length ?? 0;
  const data = {
    frames: run.frames,
    series: run.series,
    crashAt: run.crashAt,
    activeViewCapacity: result.config.activeViewCapacity,
    frameMs: options.frameMs ?? 300,
  };
  const title = `HyParView, ${result.options.nodes} nodes, seed ${result.options.seed}, crash ${run.crashFraction}`;
  // `<` escaped so the data can never close its script element.
  const json = JSON.stringify(data).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; color: #111; background: #fff; margin: 1rem 1.5rem; }
h1 { font-size: 1.2rem; margin: 0 0 0.5rem; }
.panes { display: flex; flex-wrap: wrap; gap: 1rem; }
canvas { border: 1px solid #555; max-width: 100%; }
.controls { display: flex; gap: 1rem; align-items: center; margin: 0.6rem 0; }
button { font: inherit; padding: 0.3rem 1rem; color: #fff; background: #0b4f9c; border: 0; border-radius: 3px; }
input[type=range] { width: 420px; max-width: 60vw; }
button:focus-visible, input:focus-visible { outline: 3px solid #111; outline-offset: 2px; }
#legend { list-style: none; padding: 0; display: flex; gap: 1.2rem; }
.swatch { display: inline-block; width: 1.2em; height: 0.3em; margin-right: 0.4em; vertical-align: middle; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${drawn} of ${result.options.nodes} nodes drawn (a connected sample around the first node; blue alive, red crashed; nodes not yet joined are not drawn); the figures cover every node.</p>
<div class="controls">
  <button id="play" type="button">Pause</button>
  <label>simulated time <input id="time" type="range" min="0" value="0" step="1"></label>
</div>
<p id="now" role="status" aria-live="polite"></p>
<div class="panes">
  <canvas id="graph" width="560" height="560" aria-label="the drawn sample of the active-view graph at the current time"></canvas>
  <div>
    <canvas id="chart" width="520" height="260" aria-label="figures over simulated time; the dashed line is the crash"></canvas>
    <ul id="legend"></ul>
  </div>
</div>
<script type="application/json" id="replay-data">${json}</script>
<script>
${script()}
</script>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
