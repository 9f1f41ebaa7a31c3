// cobservability's dashboard: charts from the history API (uPlot), and the small touches
// HTMX does not do itself (a changed figure flashes; chart range buttons). Pages are
// whole without this file: it only adds to them.
'use strict';

(function () {
  const refreshMs = Number(document.body.dataset.refreshMs) || 0;
  let rangeS = Number(localStorage.getItem('cobs.range')) || 900;
  const charts = [];

  // ---- numbers in human units (as the templates' filters print them) ----
  function scaled(v, step, units, suffix) {
    if (v === null || !isFinite(v)) return '-';
    let u = 0, a = Math.abs(v);
    while (a >= step && u + 1 < units.length) { a /= step; v /= step; u++; }
    const d = u === 0 && Number.isInteger(v) ? 0 : a < 10 ? 2 : a < 100 ? 1 : 0;
    return v.toFixed(d) + (units[u] ? ' ' + units[u] : '') + suffix;
  }
  const formats = {
    bytes: v => scaled(v, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB'], ''),
    bps: v => scaled(v, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB'], '/s'),
    pct: v => (v === null ? '-' : v.toFixed(1) + '%'),
    cores: v => (v === null ? '-' : v.toFixed(2)),
  };

  // ---- charts ----
  const palette = ['#58a6ff', '#3fb950', '#d29922', '#f85149', '#bc8cff', '#39c5cf', '#ff7b72', '#8b949e'];

  function seriesUrl(el) {
    const q = new URLSearchParams({ name: el.dataset.name, from: '-' + rangeS + 's', max_points: '600',
                                    max_series: '1000' });
    if (el.dataset.node) q.set('node', el.dataset.node);
    if (el.dataset.match) q.append('match[]', el.dataset.match);
    return '/api/v1/series?' + q.toString();
  }

  // Counter points to per-second rates between neighbours.
  function rates(points) {
    const out = [];
    for (let i = 1; i < points.length; i++) {
      const dt = (points[i][0] - points[i - 1][0]) / 1000, dv = points[i][1] - points[i - 1][1];
      out.push([points[i][0], dt > 0 && dv >= 0 ? dv / dt : null]);
    }
    return out;
  }

  // The API's series as uPlot's columns: one time axis (seconds), one column per value of
  // the data-by label (series sharing it are summed: CPU seconds of every CPU by mode).
  function columns(doc, el) {
    const kind = el.dataset.kind || '', by = el.dataset.by;
    const series = doc.series.map(s => ({
      label: by ? (s.labels[by] || '?') : el.dataset.name,
      points: kind.startsWith('rate') ? rates(s.points) : s.points,
    }));
    const labels = [...new Set(series.map(s => s.label))];
    const times = [...new Set(series.flatMap(s => s.points.map(p => p[0])))].sort((a, b) => a - b);
    const at = new Map(times.map((t, i) => [t, i]));
    const cols = labels.map(() => new Array(times.length).fill(null));
    series.forEach(s => {
      const c = cols[labels.indexOf(s.label)];
      s.points.forEach(p => {
        const i = at.get(p[0]);
        if (p[1] !== null) c[i] = (c[i] || 0) + p[1];
      });
    });
    if (kind === 'rate-stack') // each line is the sum of those before it: a stacked area
      for (let i = 1; i < cols.length; i++)
        cols[i] = cols[i].map((v, j) => (v === null ? null : v + (cols[i - 1][j] || 0)));
    return { labels, data: [times.map(t => t / 1000), ...cols] };
  }

  function draw(el, doc) {
    const { labels, data } = columns(doc, el);
    const fmt = formats[el.dataset.unit] || (v => (v === null ? '-' : String(+v.toFixed(3))));
    const stacked = el.dataset.kind === 'rate-stack';
    const key = labels.join('\u0000');
    let note = el.querySelector('.nodata');
    if (data[0].length === 0) {
      if (!note) { note = document.createElement('p'); note.className = 'nodata'; el.appendChild(note); }
      note.textContent = 'no history yet';
    } else if (note) {
      note.remove();
    }
    if (el._plot && el._key === key) { el._plot.setData(data); return; }
    if (el._plot) el._plot.destroy();
    const width = Math.max(el.clientWidth - 16, 200);
    el._key = key;
    el._plot = new uPlot({
      width, height: 180,
      series: [{}, ...labels.map((l, i) => ({
        label: l, stroke: palette[i % palette.length], width: 1.5,
        fill: stacked ? palette[i % palette.length] + '33' : undefined,
        value: (u, v) => fmt(v),
      }))],
      axes: [{ stroke: '#8b949e', grid: { stroke: '#30363d55' } },
             { stroke: '#8b949e', grid: { stroke: '#30363d55' }, size: 70, values: (u, vs) => vs.map(fmt) }],
      cursor: { drag: { x: false, y: false } },
      // the whole range asked for, not just what history there is yet
      scales: { x: { time: true, range: () => { const now = Date.now() / 1000; return [now - rangeS, now]; } } },
    }, data, el);
  }

  function load(el) {
    return fetch(seriesUrl(el), { headers: { Accept: 'application/json' } })
      .then(r => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
      .then(doc => draw(el, doc))
      .catch(() => {}); // the next refresh tries again; the page stays as it is
  }

  function loadAll() { charts.forEach(load); }

  function markRange() {
    document.querySelectorAll('.range-pick').forEach(b =>
      b.classList.toggle('active', Number(b.dataset.range) === rangeS));
  }

  // ---- sparklines on the node cards: CPU % over 15 min, one request for every node ----
  const sparks = new Map(); // node -> [[t_ms, value], ...]
  function loadSparks() {
    if (!document.querySelector('canvas.spark')) return Promise.resolve();
    const q = new URLSearchParams({ name: 'node_cpu_usage_percent', from: '-15m', max_points: '60',
                                    max_series: '1000' });
    q.append('match[]', 'cpu="total"');
    return fetch('/api/v1/series?' + q.toString())
      .then(r => (r.ok ? r.json() : Promise.reject(new Error(r.status))))
      .then(doc => { doc.series.forEach(s => sparks.set(s.node, s.points)); drawSparks(document); })
      .catch(() => {});
  }
  function drawSparks(root) {
    root.querySelectorAll('canvas.spark').forEach(c => {
      const pts = (sparks.get(c.dataset.node) || []).filter(p => p[1] !== null);
      const g = c.getContext('2d');
      g.clearRect(0, 0, c.width, c.height);
      if (pts.length < 2) return;
      const t0 = pts[0][0], dt = Math.max(pts[pts.length - 1][0] - t0, 1);
      g.strokeStyle = palette[0];
      g.lineWidth = 1.5;
      g.beginPath();
      pts.forEach((p, i) => {
        const x = (p[0] - t0) / dt * (c.width - 2) + 1;
        const y = c.height - 2 - Math.min(Math.max(p[1], 0), 100) / 100 * (c.height - 4);
        if (i) g.lineTo(x, y); else g.moveTo(x, y);
      });
      g.stroke();
    });
  }

  // ---- across a refresh: figures that changed flash once, open details stay open ----
  let before = null, open = null;
  function summaryKey(s) { const k = s.querySelector('.key'); return (k || s).textContent; }
  function snapshot(root) { return [...root.querySelectorAll('dd, td')].map(e => e.textContent); }
  document.addEventListener('htmx:beforeSwap', e => {
    before = snapshot(e.detail.target);
    open = new Set([...e.detail.target.querySelectorAll('details[open] > summary')].map(summaryKey));
  });
  document.addEventListener('htmx:afterSwap', e => {
    const root = e.detail.target;
    if (open) root.querySelectorAll('details > summary').forEach(s => {
      if (open.has(summaryKey(s))) s.parentElement.open = true;
    });
    drawSparks(root);
    const cells = root.querySelectorAll('dd, td');
    if (before && cells.length === before.length)
      cells.forEach((c, i) => { if (c.textContent !== before[i]) c.classList.add('changed'); });
    before = open = null;
  });

  document.addEventListener('DOMContentLoaded', () => {
    document.querySelectorAll('figure.chart').forEach(el => charts.push(el));
    document.querySelectorAll('.range-pick').forEach(b => b.addEventListener('click', () => {
      rangeS = Number(b.dataset.range);
      localStorage.setItem('cobs.range', String(rangeS));
      markRange();
      loadAll();
    }));
    markRange();
    loadAll();
    loadSparks();
    if (refreshMs && document.querySelector('canvas.spark')) setInterval(loadSparks, 30000);
    if (refreshMs && charts.length) setInterval(loadAll, Math.max(refreshMs, 5000));
  });
})();
