// mfsim ui: the incident page. Plain JavaScript, no build step, nothing from the network but the
// server's own JSON API (/api/...) and its event stream (/api/events).
/* global document, Node, location, history, EventSource, FormData */
'use strict';

const SERVICES = ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process'];
const PAGE = 50;
const state = { offset: 0, filters: {}, selected: null, seen: new Set(), firstLoad: true, info: null, detail: null };

const $ = (sel) => document.querySelector(sel);
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') e.setAttribute('style', v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

async function api(path) {
  const res = await fetch(path, { cache: 'no-store' });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

function fmtTime(ms) {
  const d = new Date(ms);
  return `${d.toLocaleTimeString([], { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}
function fmtMs(ms) {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

// ---- the list -------------------------------------------------------------------------------

function query() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state.filters)) if (v) p.set(k, v);
  p.set('offset', String(state.offset));
  p.set('limit', String(PAGE));
  return p.toString();
}

let listing = null;
let listAgain = false;
async function loadList() {
  if (listing) { listAgain = true; return listing; }
  listing = (async () => {
    try {
      const page = await api(`/api/incidents?${query()}`);
      $('#filter-error').hidden = true;
      renderList(page);
    } catch (err) {
      $('#filter-error').textContent = err.message;
      $('#filter-error').hidden = false;
    }
  })();
  await listing;
  listing = null;
  if (listAgain) { listAgain = false; await loadList(); }
}

function renderList(page) {
  const body = $('#list tbody');
  body.replaceChildren();
  for (const it of page.items) {
    const fresh = !state.firstLoad && !state.seen.has(it.id);
    state.seen.add(it.id);
    const tr = el('tr', { 'data-id': it.id, class: `${it.id === state.selected ? 'sel' : ''}${fresh ? ' new' : ''}`, onclick: () => select(it.id) },
      el('td', {}, fmtTime(it.startedMs)),
      el('td', {}, it.fn),
      el('td', { class: 'args', title: it.args }, it.args),
      el('td', { class: `status-${it.status}${it.status === 'done' && it.result.startsWith('-') ? ' errno' : ''}` }, it.status === 'done' ? it.result : it.status),
      el('td', {}, it.signals || ''));
    body.append(tr);
  }
  state.firstLoad = false;
  $('#range').textContent = (page.total === 0 ? 'no incidents' : `${page.offset + 1}–${page.offset + page.items.length} of ${page.total}`) +
    (page.indexing ? ` (indexing ${page.indexing} more: a filter may miss them yet)` : '');
  $('#prev').disabled = page.offset === 0;
  $('#next').disabled = page.offset + page.items.length >= page.total;
  if (!state.selected && page.items.length > 0) select(page.items[0].id);
}

// ---- one incident -----------------------------------------------------------------------------

async function select(id) {
  state.selected = id;
  if (location.hash !== `#incident=${id}`) history.replaceState(null, '', `#incident=${id}`);
  for (const tr of document.querySelectorAll('#list tbody tr')) tr.classList.toggle('sel', tr.dataset.id === id);
  await loadDetail();
}

async function loadDetail() {
  if (!state.selected) return;
  try {
    state.detail = await api(`/api/incidents/${state.selected}`);
    renderDetail(state.detail);
  } catch (err) {
    $('#empty').textContent = err.message;
    $('#empty').hidden = false;
    $('#detail').hidden = true;
  }
}

function flatten(hop, depth, out) {
  out.push({ hop, depth });
  for (const it of hop.items) if (it.kind === 'hop') flatten(it, depth + 1, out);
  return out;
}
function logs(hop, out) {
  for (const it of hop.items) {
    if (it.kind === 'log') out.push(it.text);
    else logs(it, out);
  }
  return out;
}

function renderDetail(d) {
  $('#empty').hidden = true;
  $('#detail').hidden = false;
  const inc = d.incident;
  const dur = d.timing === 'order' ? 'run in-process: no duration' : inc.finishedMs !== null ? fmtMs(inc.finishedMs - inc.startedMs) : 'running';
  $('#head').replaceChildren(
    el('div', { class: 'title' }, `${inc.fn}(${inc.args})`),
    el('dl', {},
      el('dt', {}, 'incident'), el('dd', { id: 'incident-id' }, inc.id),
      el('dt', {}, 'run'), el('dd', {}, inc.run),
      el('dt', {}, 'served by'), el('dd', {}, inc.service),
      el('dt', {}, 'status'), el('dd', { class: `status-${inc.status}` }, inc.status === 'done' ? `done = ${inc.result}` : `${inc.status} ${inc.result === '-' ? '' : inc.result}`),
      el('dt', {}, 'started'), el('dd', {}, `${new Date(inc.startedMs).toISOString()} (${dur})`),
      el('dt', {}, 'devices · pfns · pids'), el('dd', {}, `${d.facets.devices.join(' ') || '-'} · ${d.facets.pfns.join(' ') || '-'} · ${d.facets.pids.join(' ') || '-'}`),
      el('dt', {}, 'trace'), el('dd', {}, d.traceUrl ? el('a', { href: d.traceUrl, target: '_blank', rel: 'noopener', id: 'trace-link' }, d.traceUrl) : (state.info && state.info.source === 'embedded' ? 'none (embedded run: no spans exported)' : 'no trace link (set MFSIM_TRACE_URL)'))));
  renderWaterfall(d);
  const sig = $('#signals tbody');
  sig.replaceChildren();
  if (d.signals.length === 0) sig.append(el('tr', {}, el('td', { colspan: 7, class: 'muted' }, 'no signal sent')));
  for (const s of d.signals) {
    sig.append(el('tr', { 'data-pid': s.pid },
      el('td', {}, s.pid), el('td', {}, s.comm), el('td', {}, s.signo), el('td', {}, s.code),
      el('td', { class: `kill-${s.kill}` }, `${s.kill}${s.forced ? ' (forced)' : ''}`),
      el('td', {}, s.why), el('td', {}, `${s.addr} lsb ${s.lsb}`)));
  }
  $('#owners').replaceChildren(...(d.owners.length ? d.owners.map((o) => el('li', {}, `inode ${o.mapping} pgoff ${o.pgoff} ×${o.pgcnt}`)) : [el('li', { class: 'muted' }, 'none (no file data found by the rmap walk)')]));
  $('#shutdowns').replaceChildren(...(d.shutdowns.length ? d.shutdowns.map((s) => el('li', {}, s.text)) : [el('li', { class: 'muted' }, 'none')]));
  $('#dmpath').replaceChildren(el('div', { class: 'dm' }, d.dmPath.length ? d.dmPath.join(' → ') : 'not through device-mapper'));
  $('#faults').replaceChildren(...(d.faults && d.faults.length
    ? d.faults.map((f) => el('li', {}, `${f.kind} ${f.target}: ${fmtTime(f.startMs)} → ${f.endMs ? fmtTime(f.endMs) : 'never ended'}${f.seen ? ` (seen: ${f.seen})` : ''}`))
    : [el('li', { class: 'muted' }, state.info && state.info.faults ? 'none at this time' : 'no chaos history loaded (--history FILE)')]));
  $('#log').textContent = d.tree ? logs(d.tree, []).join('\n') : '';
}

function renderWaterfall(d) {
  const wf = $('#waterfall');
  wf.replaceChildren();
  $('#legend').replaceChildren(...SERVICES.map((s) => el('span', {}, el('i', { style: `background: var(--${s})` }), s)));
  if (!d.tree) {
    wf.append(el('div', { class: 'muted', style: 'padding: 6px' }, 'no call record of the root call yet'));
    return;
  }
  const rows = flatten(d.tree, 0, []);
  const timed = rows.filter((r) => r.hop.startMs !== null);
  const useTime = d.timing === 'recorded' && timed.length > 0;
  const untimed = rows.length - timed.length;
  let t0 = 0; let span = rows.length;
  if (useTime) {
    t0 = Math.min(d.incident.startedMs, ...timed.map((r) => r.hop.startMs));
    const t1 = Math.max(d.incident.finishedMs || 0, ...timed.map((r) => r.hop.endMs || r.hop.startMs));
    span = Math.max(1, t1 - t0);
  }
  $('#timing').textContent = useTime
    ? `times from the services' call records (first store → last write of each chain; a call inside a chain shares its chain's bar)${untimed ? `; ${untimed} hop(s) without a time, hatched` : ''}`
    : 'no times recorded (embedded run): bars show the order of the calls';
  const pct = (x) => `${Math.max(0, Math.min(100, x)).toFixed(2)}%`;
  const faults = (d.faults || []).filter(() => useTime);
  wf.append(el('div', { class: 'wf-row axis' }, el('div', { class: 'wf-fn' }, 'kernel function'), el('div', { class: 'wf-svc' }, 'service'),
    el('div', {}, useTime ? `0 ms … ${fmtMs(span)}` : `call 1 … ${rows.length}`), el('div', { class: 'wf-dur' }, useTime ? 'duration' : ''), el('div', { class: 'wf-link' }, d.traceUrl ? 'trace' : '')));
  rows.forEach(({ hop, depth }, i) => {
    const track = el('div', { class: 'wf-track' });
    for (const f of faults) {
      const a = (f.startMs - t0) / span * 100; const b = ((f.endMs || t0 + span) - t0) / span * 100;
      track.append(el('div', { class: 'wf-fault', title: `${f.kind} ${f.target}`, style: `left: ${pct(a)}; width: ${pct(b - a)}` }));
    }
    let left; let width; let cls = 'wf-bar';
    if (useTime && hop.startMs !== null) {
      left = (hop.startMs - t0) / span * 100;
      width = ((hop.endMs !== null ? hop.endMs : t0 + span) - hop.startMs) / span * 100;
      if (!hop.chainRoot) cls += ' inner';
    } else if (useTime) {
      left = 0; width = 100; cls += ' nil';
    } else {
      left = i / rows.length * 100; width = 100 / rows.length;
    }
    track.append(el('div', { class: cls, style: `left: ${pct(left)}; width: ${pct(width)}; --c: var(--${hop.service})`, title: hop.text }));
    const link = d.traceUrl ? el('a', { href: d.traceUrl, target: '_blank', rel: 'noopener', class: 'wf-trace', title: `open the trace of this incident (${hop.fn} on ${hop.service})` }, '↗') : null;
    wf.append(el('div', { class: 'wf-row', 'data-hop': hop.id, 'data-fn': hop.fn, 'data-service': hop.service },
      el('div', { class: 'wf-fn', style: `padding-left: ${4 + depth * 12}px`, title: hop.text }, hop.text),
      el('div', { class: 'wf-svc', style: `--c: var(--${hop.service})` }, hop.service),
      track,
      el('div', { class: 'wf-dur' }, useTime && hop.chainRoot && hop.startMs !== null ? (hop.endMs !== null ? fmtMs(hop.endMs - hop.startMs) : 'waiting') : hop.status === 'unrecorded' ? 'no record' : ''),
      el('div', { class: 'wf-link' }, link)));
  });
}

// ---- live -------------------------------------------------------------------------------------

let pending = null;
function changed() {
  if (pending) return;
  pending = setTimeout(async () => {
    pending = null;
    await loadList();
    if (state.detail && state.detail.incident.status === 'open') await loadDetail();
  }, 150);
}

// An open incident's tree grows as the services answer: refresh it while it is shown.
setInterval(() => {
  if (state.detail && state.detail.incident.status === 'open' && state.detail.incident.id === state.selected) loadDetail();
}, 1000);

function connect() {
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => { $('#live').className = 'live on'; });
  es.addEventListener('error', () => { $('#live').className = 'live off'; });
  es.addEventListener('version', changed);
}

async function start() {
  try {
    state.info = await api('/api/info');
    $('#source').textContent = state.info.source === 'embedded'
      ? 'embedded runs (scenario files run in-process)'
      : `recorded by the distributed stack (PostgreSQL)${state.info.faults ? ` · ${state.info.faults} chaos fault(s) from ${state.info.history}` : ''}`;
  } catch (err) {
    $('#source').textContent = err.message;
  }
  $('#filters').addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    state.filters = { device: f.get('device').trim(), pfn: f.get('pfn').trim(), pid: f.get('pid').trim(), status: f.get('status') };
    state.offset = 0;
    loadList();
  });
  $('#clear').addEventListener('click', () => { $('#filters').reset(); state.filters = {}; state.offset = 0; loadList(); });
  $('#prev').addEventListener('click', () => { state.offset = Math.max(0, state.offset - PAGE); loadList(); });
  $('#next').addEventListener('click', () => { state.offset += PAGE; loadList(); });
  const m = /^#incident=([0-9a-fA-F-]{36})$/.exec(location.hash);
  if (m) state.selected = m[1].toLowerCase();
  await loadList();
  if (m) await loadDetail();
  connect();
}

start();
