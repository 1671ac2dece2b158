// The report page's script: draws the data daxlab inlined (model.ts's ReportData) with uPlot,
// also inlined. It runs from a file on disk with no network: nothing here loads anything.
// Each drawn plot records what it drew (data-series, data-points, from the chart's own data)
// so the browser test can check it against the data the report was built from.
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('daxlab-data').textContent);
  const root = document.getElementById('report');
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const darkQuery = matchMedia('(prefers-color-scheme: dark)');
  const printQuery = matchMedia('print');
  const charts = [];
  window.daxlabCharts = charts;

  const TABLEAU = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  function seriesColor(i, n) {
    if (n <= TABLEAU.length) return TABLEAU[i];
    // Many series (144 in ordering-tax): hues a golden angle apart stay distinct longest.
    return `hsl(${(i * 137.508) % 360}, 65%, ${darkQuery.matches && !printQuery.matches ? 62 : 42}%)`;
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  }

  function fmt(v) {
    if (v == null || Number.isNaN(v)) return '–';
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 1e5 || a < 1e-2) return v.toExponential(2);
    return String(Number(v.toPrecision(4)));
  }

  function fmtNs(ns) {
    if (ns === '' || ns == null) return '';
    if (ns >= 1e9) return `${(ns / 1e9).toPrecision(4)} s`;
    if (ns >= 1e6) return `${(ns / 1e6).toPrecision(4)} ms`;
    if (ns >= 1e3) return `${(ns / 1e3).toPrecision(4)} µs`;
    return `${Math.round(ns)} ns`;
  }

  /** [x, y] tables of every series joined on one x, as uPlot draws them. */
  function aligned(plot) {
    return uPlot.join(plot.series.map((s) => [s.x, s.y]));
  }

  /** Marks, percentile guides and vertical lines, drawn over the series. */
  function overlay(plot, colors) {
    return (u) => {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      const dpr = devicePixelRatio || 1;
      ctx.save();
      ctx.font = `${11 * dpr}px system-ui, sans-serif`;
      ctx.lineWidth = dpr;
      ctx.fillStyle = color('--muted');
      ctx.strokeStyle = color('--muted');
      ctx.setLineDash([3 * dpr, 3 * dpr]);
      (plot.hlines || []).forEach((h, k) => {
        const y = u.valToPos(h.y, 'y', true);
        if (y < top || y > top + height) return;
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
        // Guides close together (p99, p99.9) get their labels at different places along the line.
        ctx.fillText(h.label, left + (4 + 40 * k) * dpr, y - 3 * dpr);
      });
      const keyColor = new Map(plot.series.map((s, i) => [s.colorKey ?? s.label, colors[i]]));
      (plot.vlines || []).forEach((v, k) => {
        const x = u.valToPos(v.x, 'x', true);
        if (x < left || x > left + width) return;
        const c = (v.colorKey !== undefined && keyColor.get(v.colorKey)) || color('--accent');
        ctx.strokeStyle = c;
        ctx.fillStyle = c;
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
        // Short labels one above another from the bottom, each beside its line on the side with room.
        const w = ctx.measureText(v.label).width;
        const tx = x + 4 * dpr + w > left + width ? x - 4 * dpr - w : x + 4 * dpr;
        ctx.fillText(v.label, tx, top + height - (6 + 14 * k) * dpr);
      });
      ctx.setLineDash([]);
      plot.series.forEach((s, i) => {
        if (!s.marks || !u.series[i + 1].show) return;
        ctx.fillStyle = colors[i];
        for (const m of s.marks) {
          const x = u.valToPos(m.x, 'x', true);
          const y = u.valToPos(m.y, 'y', true);
          ctx.beginPath();
          ctx.arc(x, y, 3 * dpr, 0, 2 * Math.PI);
          ctx.fill();
        }
      });
      ctx.restore();
    };
  }

  /** Colour of each series: one per colour key (a configuration and its seed row share one). */
  function seriesColors(plot) {
    const keys = [];
    for (const s of plot.series) if (!keys.includes(s.colorKey ?? s.label)) keys.push(s.colorKey ?? s.label);
    return plot.series.map((s) => seriesColor(keys.indexOf(s.colorKey ?? s.label), keys.length));
  }

  /** Most series a histogram draws as grouped bars; past it bars would be slivers, so lines. */
  const MAX_BAR_SERIES = 16;

  /** Grouped bars, drawn by hand: uPlot draws none for these series (their paths are empty). */
  function bars(plot, colors) {
    return (u) => {
      const ctx = u.ctx;
      const shown = plot.series.map((_, i) => i).filter((i) => u.series[i + 1].show);
      if (shown.length === 0) return;
      const slot = 0.84 / shown.length;
      const zero = u.bbox.top + u.bbox.height; // bars stand on the axis (a log axis has no 0)
      ctx.save();
      shown.forEach((si, j) => {
        const s = plot.series[si];
        ctx.fillStyle = colors[si];
        ctx.strokeStyle = colors[si];
        ctx.lineWidth = devicePixelRatio || 1;
        s.x.forEach((x, k) => {
          const y = s.y[k];
          if (y == null || y <= 0) return;
          const x0 = u.valToPos(x - 0.42 + j * slot, 'x', true);
          const x1 = u.valToPos(x - 0.42 + (j + 1) * slot, 'x', true);
          const top = u.valToPos(y, 'y', true);
          if (s.dash) {
            ctx.setLineDash([4, 3]);
            ctx.strokeRect(x0 + 0.5, top, Math.max(1, x1 - x0 - 1), zero - top);
            ctx.setLineDash([]);
          } else ctx.fillRect(x0, top, Math.max(1, x1 - x0 - 1), zero - top);
        });
      });
      ctx.restore();
    };
  }

  const MAX_LIVE_LEGEND = 24;

  function drawPlot(plot, box) {
    const cats = plot.xCategories;
    const n = plot.series.length;
    const colors = seriesColors(plot);
    const asBars = plot.kind === 'histogram' && plot.series.length <= MAX_BAR_SERIES;
    const axis = { stroke: color('--fg'), grid: { stroke: color('--grid') }, ticks: { stroke: color('--grid') } };
    const xAxis = { ...axis, label: plot.xLabel };
    if (cats) {
      xAxis.splits = () => cats.map((_, i) => i);
      xAxis.values = (u, splits) => splits.map((i) => cats[i] ?? '');
      if (plot.kind === 'histogram' && cats.length > 8) xAxis.rotate = -45;
    }
    const xs = [...new Set(plot.series.flatMap((s) => s.x))].sort((a, b) => a - b);
    if (!cats && plot.kind === 'line' && xs.length <= 12 && !(plot.vlines && plot.vlines.length)) {
      // A sweep's few measured values (1, 2, 4 CPUs) are the ticks, not 1.2 or 1.4 CPUs.
      xAxis.splits = () => xs;
    }
    const series = [{ label: plot.xLabel, value: (u, v) => (v == null ? '–' : cats ? cats[v] : fmt(v)) }];
    plot.series.forEach((s, i) => {
      // The legend shows a point's note (blocks per commit) beside its value.
      const notes = s.notes ? new Map(s.x.map((x, j) => [x, s.notes[j]])) : null;
      series.push({
        label: s.label,
        stroke: colors[i],
        width: 1.5,
        dash: s.dash === 'dashed' ? [6, 4] : s.dash === 'dotted' ? [2, 3] : undefined,
        // An empty bucket is no operation, not a missing sample: a histogram's line breaks there.
        spanGaps: plot.kind !== 'histogram',
        points: { show: plot.kind === 'scatter' || (!asBars && s.x.length <= 40), size: plot.kind === 'scatter' ? 7 : 5 },
        // A scatter's points are policies, not a curve: no line joins them.
        ...(asBars || plot.kind === 'scatter' ? { paths: () => null } : {}),
        value: (u, v, si, idx) => {
          if (v == null) return '–';
          const note = notes && idx != null ? notes.get(u.data[0][idx]) : undefined;
          return note ? `${fmt(v)} · ${note}` : fmt(v);
        },
      });
    });
    const width = Math.max(320, box.clientWidth || 800);
    const opts = {
      width,
      height: 300,
      scales: {
        x: { time: false, distr: plot.xLog ? 3 : 1, ...(cats ? { range: [-0.5, cats.length - 0.5] } : {}) },
        y: {
          distr: plot.yLog ? 3 : 1,
          // Shares of the operations: never past 100 %, and down to 1 % at least.
          ...(plot.kind === 'cdf' ? { range: [0, 100] } : plot.kind === 'histogram' ? { range: (u, min) => uPlot.rangeLog(Math.min(min, 1), 100, 10, true) } : {}),
        },
      },
      axes: [xAxis, { ...axis, label: plot.yLabel, size: 60 }],
      series,
      cursor: { focus: { prox: 16 } },
      focus: { alpha: 0.25 },
      // A live legend of 144 rows re-renders on every cursor move: past a few dozen series it
      // lists the names only, and the hovered line's value shows in the chart's title bar.
      legend: { live: n <= MAX_LIVE_LEGEND },
      hooks: { draw: asBars ? [bars(plot, colors), overlay(plot, colors)] : [overlay(plot, colors)] },
    };
    if (plot.vlines && plot.vlines.length > 0) {
      // An extrapolated crossover lies past the measured k: the axis reaches out to it.
      const vx = plot.vlines.map((v) => v.x);
      opts.scales.x.range = (u, min, max) => {
        const lo = Math.min(min, ...vx);
        const hi = Math.max(max, ...vx);
        return plot.xLog ? uPlot.rangeLog(lo, hi, 10, true) : [lo, hi];
      };
    }
    if (n > MAX_LIVE_LEGEND && !(box.previousElementSibling && box.previousElementSibling.classList.contains('readout'))) {
      // The hovered line (uPlot focuses the nearest) and its value under the cursor, in one line.
      const readout = el('div', { class: 'readout', text: 'hover a line for its name and value' });
      box.before(readout);
      let focused = null;
      opts.hooks.setSeries = [(u, si, o) => (focused = o && o.focus && si != null ? si : focused)];
      opts.hooks.setCursor = [
        (u) => {
          const idx = u.cursor.idx;
          if (idx == null || focused == null || !u.series[focused]) return;
          const v = u.data[focused][idx];
          readout.textContent = `${u.series[focused].label}: ${series[0].value(u, u.data[0][idx])} → ${series[focused].value(u, v, focused, idx)}`;
        },
      ];
    }
    const u = new uPlot(opts, aligned(plot), box);
    let points = 0;
    for (let i = 1; i < u.data.length; i++) for (const v of u.data[i]) if (v != null) points++;
    box.dataset.series = String(u.series.length - 1);
    box.dataset.points = String(points);
    charts.push({ id: plot.id, u, plot, box });
    return u;
  }

  function section(title, id, cls) {
    const s = el('section', { id, class: cls || '' }, el('h2', { text: title }));
    root.append(s);
    return s;
  }

  // Plots are drawn as they come near the screen, and the rest one at a time once the first
  // screen is up: ordering-tax's dozen charts of 144 series each do not hold up the page.
  const later = new Map();
  const nearView = new IntersectionObserver((entries) => entries.forEach((e) => e.isIntersecting && drawLater(e.target)), { rootMargin: '300px' });
  function drawLater(fig) {
    const p = later.get(fig);
    if (p === undefined) return;
    later.delete(fig);
    nearView.unobserve(fig);
    drawPlot(p.plot, p.box);
  }

  function drawSections() {
    for (const sec of data.sections) {
      const s = section(sec.title, sec.id);
      for (const note of sec.notes) s.append(el('p', { class: 'note', text: note }));
      for (const plot of sec.plots) {
        const box = el('div', { class: 'chart', id: plot.id, 'data-plot': plot.kind });
        const fig = el('figure', { class: 'plot' }, el('figcaption', { text: plot.title }), box, plot.caption ? el('p', { class: 'caption', text: plot.caption }) : null);
        s.append(fig);
        if (plot.series.length === 0) {
          box.dataset.series = '0';
          box.dataset.points = '0';
          box.append(el('p', { class: 'note', text: 'nothing to draw' }));
          continue;
        }
        later.set(fig, { plot, box });
        nearView.observe(fig);
      }
    }
  }

  const STEP_COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#b07aa1', '#edc948', '#76b7b2', '#bab0ac'];
  function drawAttribution() {
    if (data.attribution.length === 0) return;
    const s = section('Attribution', 'attribution');
    s.append(el('p', { class: 'caption', text: "each kernel step's share of the mean latency and of the operations at or above the p99" }));
    for (const chart of data.attribution) {
      const legend = el('div', { class: 'attr-legend' }, ...chart.steps.map((st, i) => el('span', {}, el('i', { style: `background:${STEP_COLORS[i % STEP_COLORS.length]}` }), st)));
      const rows = el('div', { class: 'attr-rows' });
      for (const bar of chart.bars) {
        const track = el('div', { class: 'attr-bar' });
        let segments = 0;
        bar.shares.forEach((share, i) => {
          if (!(share > 0)) return;
          segments++;
          track.append(el('span', { style: `width:${(100 * share).toFixed(3)}%;background:${STEP_COLORS[i % STEP_COLORS.length]}`, title: `${chart.steps[i]}: ${(100 * share).toFixed(1)} %` }));
        });
        track.dataset.segments = String(segments);
        rows.append(el('div', { class: 'attr-label', text: `${bar.config} · ${bar.figure} ${fmtNs(bar.latencyNs)}` }), track);
      }
      s.append(el('figure', { class: 'plot attribution', id: chart.id, 'data-bars': String(chart.bars.length) }, el('figcaption', { text: chart.title }), legend, rows));
    }
  }

  // One formatter for the thousands of cells (toLocaleString makes one per call).
  const grouped = new Intl.NumberFormat('en');
  function cellText(v, f) {
    if (typeof v !== 'number') return String(v);
    if (f === 'ns') return fmtNs(v);
    return f === 'int' || Number.isInteger(v) ? grouped.format(v) : fmt(v);
  }

  function drawTable(t) {
    const s = section(t.title, t.id, 'table');
    if (t.caption) s.append(el('p', { class: 'caption', text: t.caption }));
    const thead = el('tr');
    const tbody = el('tbody');
    const fill = (rows) => {
      tbody.replaceChildren(...rows.map((r) => el('tr', {}, ...r.map((v, i) => el('td', { class: t.columns[i].numeric ? 'num' : '', text: cellText(v, t.formats ? t.formats[i] : undefined) })))));
    };
    let sorted = { col: -1, dir: 1 };
    t.columns.forEach((c, i) => {
      const th = el('th', { class: c.numeric ? 'num' : '', text: c.label, tabindex: '0', 'aria-sort': 'none' });
      const sort = () => {
        sorted = { col: i, dir: sorted.col === i ? -sorted.dir : c.numeric ? -1 : 1 };
        const rows = [...t.rows].sort((a, b) => {
          const x = a[i];
          const y = b[i];
          const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y), 'en', { numeric: true });
          return sorted.dir * cmp;
        });
        for (const h of thead.children) h.setAttribute('aria-sort', 'none');
        th.setAttribute('aria-sort', sorted.dir > 0 ? 'ascending' : 'descending');
        fill(rows);
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (e) => e.key === 'Enter' && sort());
      thead.append(th);
    });
    fill(t.rows);
    s.append(el('div', { class: 'table-wrap' }, el('table', { class: 'sortable' }, el('thead', {}, thead), tbody)));
  }

  drawSections();
  drawAttribution();
  for (const t of data.tables) drawTable(t);

  // Charts follow the page's width (a resized window, or the printed page).
  const resize = () => {
    for (const { u } of charts) {
      const w = u.root.parentElement.clientWidth;
      if (w > 0 && Math.abs(w - u.width) > 2) u.setSize({ width: w, height: u.height });
    }
  };
  addEventListener('resize', resize);
  addEventListener('beforeprint', resize);
  // Canvas colours are fixed when drawn: a change of scheme, or printing (dark text on white),
  // draws the charts anew in the colours the page now has.
  const redraw = () => {
    for (const c of charts.splice(0)) {
      c.u.destroy();
      drawPlot(c.plot, c.box);
    }
    resize();
  };
  darkQuery.addEventListener('change', redraw);
  printQuery.addEventListener('change', redraw);
  // Drawn: the frame after the page loaded with every chart in it (what a reader waits for).
  // firstScreenMs: the first screen drawn (what a reader waits for); drawnMs: every plot drawn.
  const drainRest = () => {
    const next = later.keys().next();
    if (next.done) {
      document.body.dataset.drawnMs = String(Math.round(performance.now()));
      document.body.dataset.ready = '1';
      return;
    }
    drawLater(next.value);
    setTimeout(drainRest, 0);
  };
  const loaded = () => {
    // The plots on the first screen now, not when the observer first reports (a frame later).
    for (const fig of [...later.keys()]) if (fig.getBoundingClientRect().top < innerHeight) drawLater(fig);
    requestAnimationFrame(() => {
      document.body.dataset.firstScreenMs = String(Math.round(performance.now()));
      setTimeout(drainRest, 0);
    });
  };
  if (document.readyState === 'complete') loaded();
  else addEventListener('load', loaded);
})();
