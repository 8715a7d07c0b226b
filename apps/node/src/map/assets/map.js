// The node's map page: one EventSource, a table and a canvas. Plain DOM (textContent only, never
// innerHTML: node names come from the network) and a hand-written canvas renderer, no dependencies.

const $ = (id) => document.getElementById(id);
const canvas = $('graph');
const ctx = canvas.getContext('2d');
/** Positions survive between snapshots so the layout moves smoothly instead of jumping. */
const positions = new Map();
let snapshot;
let selected = -1;

function fmt(n, digits = 0) {
  return n.toLocaleString('en', { maximumFractionDigits: digits });
}

function short(id) {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id;
}

function text(el, value) {
  if (el.textContent !== value) el.textContent = value;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    td.textContent = c;
    tr.append(td);
  }
  return tr;
}

function renderTables(s) {
  text($('self-name'), s.self.name ?? '');
  text($('self-id'), s.self.id);
  text($('peer-count'), String(s.peers.length));
  const peers = $('peers');
  peers.replaceChildren(
    ...s.peers.map((p) => {
      const dialled = p.direction === null ? '—' : p.direction === 'outbound' ? 'by us' : 'by them';
      const rtt = p.rttMs === null ? '—' : `${fmt(p.rttMs, 2)} ms`;
      const msgs = `${fmt(p.messagesInPerSecond, 1)} · ${fmt(p.messagesOutPerSecond, 1)}`;
      const bytes = `${fmt(p.bytesInPerSecond)} · ${fmt(p.bytesOutPerSecond)}`;
      const tr = row([
        short(p.id),
        rtt,
        dialled,
        p.transport ?? '—',
        pathText(p),
        String(p.queued),
        msgs,
        bytes,
      ]);
      tr.dataset.peer = p.id;
      // The table shows a short id; the whole id is the cell's title and what a screen reader reads.
      tr.firstChild.title = p.id;
      tr.firstChild.setAttribute('aria-label', p.id);
      return tr;
    }),
  );
  const t = s.traffic;
  const dl = $('traffic');
  const items = [
    ['messages sent', fmt(t.sent), 'sent'],
    ['messages received', fmt(t.received), 'received'],
    ['sent / s', fmt(t.sentPerSecond, 1)],
    ['received / s', fmt(t.receivedPerSecond, 1)],
    ['bytes in / s', fmt(t.bytesInPerSecond)],
    ['bytes out / s', fmt(t.bytesOutPerSecond)],
  ];
  dl.replaceChildren(
    ...items.flatMap(([k, v, testid]) => {
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = v;
      if (testid) dd.dataset.testid = testid;
      return [dt, dd];
    }),
  );
  text($('topic-count'), String(s.topics.length));
  $('topics').replaceChildren(
    ...s.topics.map((t) => {
      const publisher = t.publisherNode === s.self.id ? 'this node' : short(t.publisherNode);
      const rate = t.eventsPerSecond === null ? '—' : fmt(t.eventsPerSecond, 1);
      const tr = row([short(t.id), publisher, t.subscribers === null ? '—' : String(t.subscribers), rate]);
      tr.dataset.topic = t.id;
      tr.firstChild.title = t.id;
      tr.firstChild.setAttribute('aria-label', t.id);
      return tr;
    }),
  );
  const domains = $('domains');
  if (s.domains.length === 0)
    domains.replaceChildren(Object.assign(document.createElement('p'), { textContent: 'none' }));
  else
    domains.replaceChildren(
      ...s.domains.map((d) => {
        const p = document.createElement('p');
        p.dataset.domain = d.id;
        p.textContent =
          `${d.name} (${short(d.id)}), ${d.role}, ${d.members} members: active view ${d.active.length}` +
          `${d.active.length ? ` (${d.active.map(short).join(', ')})` : ''}, passive view ${d.passive}`;
        return p;
      }),
    );
  const services = $('services');
  services.replaceChildren(
    ...Object.entries(s.services).map(([name, counters]) => {
      const details = document.createElement('details');
      const summary = document.createElement('summary');
      summary.textContent = name;
      const list = document.createElement('dl');
      for (const [k, v] of Object.entries(counters)) {
        if (v === 0) continue;
        const dt = document.createElement('dt');
        dt.textContent = k;
        const dd = document.createElement('dd');
        dd.textContent = fmt(v);
        list.append(dt, dd);
      }
      details.append(summary, list);
      return details;
    }),
  );
}

/** Nodes at the far end of the snapshot's edges that are not direct peers: domain members, publishers. */
function outerIds(s) {
  const peers = new Set(s.peers.map((p) => p.id));
  const out = new Set();
  for (const [a, b] of s.edges) {
    for (const id of [a, b]) if (id !== s.self.id && !peers.has(id)) out.add(id);
  }
  return [...out].sort();
}

/** Peers on a ring around this node, relaxed by a few steps of repulsion; RTT pushes a peer outwards. */
function layout(s) {
  const w = canvas.width;
  const h = canvas.height;
  const cx = w / 2;
  const cy = h / 2;
  const outer = outerIds(s);
  const ids = new Set([...s.peers.map((p) => p.id), ...outer]);
  for (const id of positions.keys()) if (!ids.has(id)) positions.delete(id);
  // The second ring sits outside the peers, evenly spaced, turned a little so it rarely lines up with them.
  outer.forEach((id, i) => {
    const angle = (2 * Math.PI * (i + 0.5)) / outer.length + 0.3;
    const r = Math.min(w, h) * 0.46;
    positions.set(id, { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle) });
  });
  const maxRtt = Math.max(1, ...s.peers.map((p) => p.rttMs ?? 0));
  s.peers.forEach((p, i) => {
    const angle = (2 * Math.PI * i) / Math.max(1, s.peers.length);
    const r = Math.min(w, h) * (0.28 + 0.14 * ((p.rttMs ?? 0) / maxRtt));
    const target = { x: cx + r * Math.cos(angle), y: cy + r * Math.sin(angle) };
    const at = positions.get(p.id);
    positions.set(p.id, at ? { x: (at.x + target.x) / 2, y: (at.y + target.y) / 2 } : target);
  });
}

/** The second ring: what the node knows of but has no link to, lighter and dashed, labels only when few. */
function drawOuter(s, cx, cy) {
  const outer = outerIds(s);
  if (outer.length === 0) return;
  const many = outer.length > 24;
  ctx.save();
  ctx.strokeStyle = '#c4c4c4';
  ctx.lineWidth = many ? 0.5 : 1;
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  for (const [a, b] of s.edges) {
    const from = a === s.self.id ? { x: cx, y: cy } : positions.get(a);
    const to = b === s.self.id ? { x: cx, y: cy } : positions.get(b);
    if (!from || !to || !(outer.includes(a) || outer.includes(b))) continue;
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(to.x, to.y);
  }
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.font = '11px system-ui, sans-serif';
  for (const id of outer) {
    const at = positions.get(id);
    if (!at) continue;
    ctx.fillStyle = '#8fb3d9';
    ctx.beginPath();
    ctx.arc(at.x, at.y, many ? 2 : 4, 0, 2 * Math.PI);
    ctx.fill();
    if (!many) {
      ctx.fillStyle = '#666';
      const right = at.x > cx + 1;
      ctx.textAlign = right ? 'right' : 'left';
      ctx.fillText(short(id), right ? at.x - 8 : at.x + 8, at.y + 14);
    }
  }
  ctx.restore();
}

function draw() {
  const s = snapshot;
  const w = canvas.width;
  const h = canvas.height;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  if (!s) return;
  const cx = w / 2;
  const cy = h / 2;
  // Level of detail: with many peers, edges get thin and labels are drawn only for the selection.
  const many = s.peers.length > 24;
  drawOuter(s, cx, cy);
  ctx.strokeStyle = '#777';
  ctx.lineWidth = many ? 0.5 : 1.5;
  ctx.beginPath();
  for (const p of s.peers) {
    const at = positions.get(p.id);
    if (!at) continue;
    ctx.moveTo(cx, cy);
    ctx.lineTo(at.x, at.y);
  }
  ctx.stroke();
  ctx.font = '12px system-ui, sans-serif';
  s.peers.forEach((p, i) => {
    const at = positions.get(p.id);
    if (!at) return;
    ctx.fillStyle = p.path === 'relayed' ? '#8a1c00' : '#0b4f9c';
    ctx.beginPath();
    ctx.arc(at.x, at.y, i === selected ? 9 : many ? 3 : 6, 0, 2 * Math.PI);
    ctx.fill();
    if (!many || i === selected) {
      ctx.fillStyle = '#111';
      const rtt = p.rttMs === null ? '' : ` ${fmt(p.rttMs, 1)} ms`;
      // Labels point away from the centre so the ones on the right stay inside the canvas.
      const right = at.x > cx + 1;
      ctx.textAlign = right ? 'right' : 'left';
      ctx.fillText(`${short(p.id)}${rtt}`, right ? at.x - 10 : at.x + 10, at.y - 10);
      ctx.textAlign = 'left';
    }
  });
  ctx.fillStyle = '#111';
  ctx.beginPath();
  ctx.arc(cx, cy, 10, 0, 2 * Math.PI);
  ctx.fill();
  ctx.textAlign = 'center';
  ctx.fillText(s.self.name ?? 'this node', cx, cy + 26);
  ctx.textAlign = 'start';
}

/** `direct`, or `relayed via <relay>` for a peer reached through a relay. */
function pathText(p) {
  return p.path === 'relayed' && p.via ? `relayed via ${short(p.via)}` : p.path;
}

function describeSelection() {
  const p = snapshot?.peers[selected];
  text(
    $('selected'),
    p
      ? `selected ${p.id}: RTT ${p.rttMs === null ? 'unknown' : `${fmt(p.rttMs, 2)} ms`}, ` +
          `${p.transport ?? 'transport unknown'}, ${pathText(p)}, dialled ${p.direction === null ? 'by nobody (relayed)' : p.direction === 'inbound' ? 'by them' : 'by us'}`
      : '',
  );
}

canvas.addEventListener('keydown', (event) => {
  const n = snapshot?.peers.length ?? 0;
  if (n === 0) return;
  if (event.key === 'ArrowRight' || event.key === 'ArrowDown') selected = (selected + 1) % n;
  else if (event.key === 'ArrowLeft' || event.key === 'ArrowUp') selected = (selected - 1 + n) % n;
  else if (event.key === 'Escape') selected = -1;
  else return;
  event.preventDefault();
  describeSelection();
  draw();
});

function apply(s) {
  snapshot = s;
  if (selected >= s.peers.length) selected = -1;
  renderTables(s);
  layout(s);
  describeSelection();
  requestAnimationFrame(draw);
  document.body.dataset.updated = String(s.at);
}

function connect() {
  const status = $('connection');
  const events = new EventSource('/map/events');
  events.addEventListener('snapshot', (event) => {
    status.className = '';
    text(status, 'live');
    apply(JSON.parse(event.data));
  });
  events.addEventListener('error', () => {
    status.className = 'lost';
    text(status, 'connection lost; retrying…');
  });
}

connect();
