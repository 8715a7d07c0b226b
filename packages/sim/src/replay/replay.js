// The simulation replay: frames of a sampled graph plus the figures over simulated time, played on a
// canvas. Runs from a file, offline; the data sits in <script type="application/json" id="replay-data">.

const data = JSON.parse(document.getElementById('replay-data').textContent);
const $ = (id) => document.getElementById(id);
const graph = $('graph');
const chart = $('chart');
const slider = $('time');
const play = $('play');
const n = data.frames[0]?.state.length ?? 0;

// A force layout (Fruchterman–Reingold) over every edge ever seen, with a pull to the centre; repulsion
// only between nodes in neighbouring cells of a coarse grid, so 400 drawn nodes lay out in a blink.
const pos = layout();

function layout() {
  const w = graph.width;
  const h = graph.height;
  const p = Array.from({ length: n }, (_, i) => {
    const a = i * 2.399963; // golden angle: an even start without randomness
    const r = Math.sqrt((i + 0.5) / n) * Math.min(w, h) * 0.45;
    return { x: w / 2 + r * Math.cos(a), y: h / 2 + r * Math.sin(a) };
  });
  const edges = new Map();
  for (const f of data.frames) for (const [a, b] of f.edges) edges.set(a * n + b, [a, b]);
  const k = Math.sqrt((w * h) / Math.max(n, 1)) * 0.7;
  const steps = 150;
  for (let step = 0; step < steps; step++) {
    const disp = p.map(() => ({ x: 0, y: 0 }));
    const cell = 2 * k;
    const grid = new Map();
    p.forEach((q, i) => {
      const key = `${Math.floor(q.x / cell)},${Math.floor(q.y / cell)}`;
      (grid.get(key) ?? grid.set(key, []).get(key)).push(i);
    });
    p.forEach((q, i) => {
      const gx = Math.floor(q.x / cell);
      const gy = Math.floor(q.y / cell);
      for (let dx = -1; dx <= 1; dx++)
        for (let dy = -1; dy <= 1; dy++)
          for (const j of grid.get(`${gx + dx},${gy + dy}`) ?? []) {
            if (j === i) continue;
            const ddx = q.x - p[j].x;
            const ddy = q.y - p[j].y;
            const d = Math.max(Math.hypot(ddx, ddy), 0.5);
            disp[i].x += (ddx / d) * ((k * k) / d);
            disp[i].y += (ddy / d) * ((k * k) / d);
          }
      disp[i].x += (w / 2 - q.x) * 0.05;
      disp[i].y += (h / 2 - q.y) * 0.05;
    });
    for (const [a, b] of edges.values()) {
      const dx = p[b].x - p[a].x;
      const dy = p[b].y - p[a].y;
      const d = Math.max(Math.hypot(dx, dy), 0.5);
      const pull = (d * d) / k;
      disp[a].x += (dx / d) * pull;
      disp[a].y += (dy / d) * pull;
      disp[b].x -= (dx / d) * pull;
      disp[b].y -= (dy / d) * pull;
    }
    const temperature = (Math.min(w, h) / 10) * (1 - step / steps) + 0.5;
    p.forEach((q, i) => {
      const d = Math.max(Math.hypot(disp[i].x, disp[i].y), 1e-9);
      const move = Math.min(d, temperature);
      q.x += (disp[i].x / d) * move;
      q.y += (disp[i].y / d) * move;
    });
  }
  // Fit the drawing into the canvas with a margin.
  const xs = p.map((q) => q.x);
  const ys = p.map((q) => q.y);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const scale = Math.min((w - 24) / Math.max(x1 - x0, 1), (h - 24) / Math.max(y1 - y0, 1));
  return p.map((q) => ({ x: 12 + (q.x - x0) * scale, y: 12 + (q.y - y0) * scale }));
}

function drawGraph(f) {
  const g = graph.getContext('2d');
  g.fillStyle = '#fff';
  g.fillRect(0, 0, graph.width, graph.height);
  g.strokeStyle = 'rgba(40, 60, 90, 0.45)';
  g.lineWidth = 0.7;
  g.beginPath();
  for (const [a, b] of f.edges) {
    g.moveTo(pos[a].x, pos[a].y);
    g.lineTo(pos[b].x, pos[b].y);
  }
  g.stroke();
  const r = n > 200 ? 2.5 : 4;
  for (const [state, color] of [
    [1, '#0b4f9c'],
    [2, '#b31b00'],
  ]) {
    g.fillStyle = color;
    g.beginPath();
    f.state.forEach((s, i) => {
      if (s !== state) return;
      g.moveTo(pos[i].x + r, pos[i].y);
      g.arc(pos[i].x, pos[i].y, r, 0, 2 * Math.PI);
    });
    g.fill();
  }
}

const lines = [
  { key: 'connected', label: 'largest component', color: '#0b4f9c' },
  { key: 'alive', label: 'alive', color: '#1b6e20' },
  { key: 'active', label: 'active view / capacity', color: '#8a1c00' },
];

function drawChart(t) {
  const c = chart.getContext('2d');
  const w = chart.width;
  const h = chart.height;
  const left = 40;
  const bottom = h - 24;
  const tMax = data.series.at(-1)?.t ?? 1;
  const x = (v) => left + ((w - left - 10) * v) / tMax;
  const y = (v) => bottom - (bottom - 10) * v;
  c.fillStyle = '#fff';
  c.fillRect(0, 0, w, h);
  c.strokeStyle = '#555';
  c.fillStyle = '#111';
  c.font = '12px system-ui, sans-serif';
  c.strokeRect(left, 10, w - left - 10, bottom - 10);
  c.fillText('1', 26, 16);
  c.fillText('0', 26, bottom);
  c.fillText(`${tMax.toFixed(0)} s`, w - 40, h - 6);
  c.fillText('simulated time', left, h - 6);
  if (data.crashAt !== undefined) {
    c.strokeStyle = '#b31b00';
    c.setLineDash([4, 3]);
    c.beginPath();
    c.moveTo(x(data.crashAt), 10);
    c.lineTo(x(data.crashAt), bottom);
    c.stroke();
    c.setLineDash([]);
  }
  for (const line of lines) {
    c.strokeStyle = line.color;
    c.lineWidth = 2;
    c.beginPath();
    data.series.forEach((s, i) => {
      const v = line.key === 'active' ? s.activeMean / data.activeViewCapacity : s[line.key];
      if (i === 0) c.moveTo(x(s.t), y(v));
      else c.lineTo(x(s.t), y(v));
    });
    c.stroke();
  }
  c.strokeStyle = '#111';
  c.lineWidth = 1;
  c.beginPath();
  c.moveTo(x(t), 10);
  c.lineTo(x(t), bottom);
  c.stroke();
}

function show(index) {
  const f = data.frames[index];
  const s = data.series[index] ?? data.series.at(-1);
  slider.value = String(index);
  drawGraph(f);
  drawChart(f.t);
  const phase =
    data.crashAt !== undefined && f.t > data.crashAt
      ? 'after the crash'
      : f.t === data.crashAt
        ? 'crash'
        : 'joining';
  $('now').textContent =
    `t = ${f.t.toFixed(1)} s (${phase}): alive ${(s.alive * 100).toFixed(1)}%, ` +
    `largest component ${(s.connected * 100).toFixed(1)}%, mean active view ${s.activeMean.toFixed(2)}`;
  document.body.dataset.frame = String(index);
}

let timer;
function stop() {
  clearInterval(timer);
  timer = undefined;
  play.textContent = 'Play';
}
function start() {
  if (Number(slider.value) >= data.frames.length - 1) show(0);
  play.textContent = 'Pause';
  document.body.dataset.state = 'playing';
  timer = setInterval(() => {
    const next = Number(slider.value) + 1;
    if (next >= data.frames.length) {
      stop();
      document.body.dataset.state = 'ended';
      return;
    }
    show(next);
  }, data.frameMs);
}

slider.max = String(data.frames.length - 1);
slider.addEventListener('input', () => {
  stop();
  show(Number(slider.value));
});
play.addEventListener('click', () => (timer ? stop() : start()));
$('legend').replaceChildren(
  ...lines.map((l) => {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = l.color;
    li.append(swatch, l.label);
    return li;
  }),
);
show(0);
start();
