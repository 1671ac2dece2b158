// The report as one self-contained HTML file: the banner written here (it reads without
// script, and says first whether a run is partial), then the data, uPlot and the page's
// script inlined. A Content-Security-Policy of default-src 'none' makes the browser refuse
// any request the page might make, so opening it never reaches the network.

import { reportAssets } from './assets.js';
import type { ReportData, RunBanner } from './model.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]);

/** JSON safe inside a <script> element: no `</script>`, no `<!--`, no line separators JavaScript would choke on. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** A script inlined verbatim: only a closing tag could end it early, and none may be in it. */
function inlineScript(js: string, what: string): string {
  if (/<\/script/i.test(js)) throw new Error(`${what} holds a </script> and cannot be inlined`);
  return `<script>${js}</script>`;
}

function banner(b: RunBanner, several: boolean): string {
  const row = (k: string, v: string) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`;
  const partial = b.partial
    ? `<div class="partial" role="alert" data-partial="1">Partial run: it stopped before the end and holds what was gathered so far${b.failure !== undefined ? ` (${escapeHtml(b.failure)})` : ''}.</div>`
    : '';
  return (
    `<div class="banner" data-run="${escapeHtml(b.label)}">` +
    (several ? `<strong>${escapeHtml(b.label)}</strong>` : '') +
    partial +
    `<p class="desc">${escapeHtml(b.description)}</p><dl>` +
    row('workload', b.workload) +
    row('profile', b.profile) +
    row('clock', b.clock) +
    row('variant', b.variant) +
    row('seed', String(b.seed)) +
    row('machine', b.machine) +
    row('configurations', String(b.configs)) +
    (b.shard !== undefined ? row('shard', b.shard) : '') +
    row('run', `${b.created}, daxlab ${b.version}`) +
    row('partial', b.partial ? 'yes' : 'no') +
    b.warnings.map((w) => row('warning', w)).join('') +
    `</dl></div>`
  );
}

export function renderReportHtml(data: ReportData): string {
  const a = reportAssets();
  const several = data.runs.length > 1;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    `<title>${escapeHtml(data.title)}</title>`,
    `<style>${a.uplotCss}\n${a.pageCss}</style>`,
    '</head>',
    '<body>',
    `<header><h1>${escapeHtml(data.title)}</h1>`,
    data.runs.map((b) => banner(b, several)).join('\n'),
    data.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('\n'),
    '</header>',
    '<noscript><p class="note">The plots and tables need JavaScript; the data is in this file and in results.json.</p></noscript>',
    '<main id="report"></main>',
    `<footer>Written by ${escapeHtml(data.generator)}. Plots: uPlot (MIT). Everything this page shows is in this file.</footer>`,
    `<script type="application/json" id="daxlab-data">${scriptJson(data)}</script>`,
    inlineScript(a.uplotJs, 'uPlot'),
    inlineScript(a.pageJs, 'the report script'),
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
