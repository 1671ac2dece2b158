// The report in a real browser: headless Chromium (Debian's, driven by playwright-core) opens
// the report of each shipped experiment's reference run, a partial run, and a comparison of
// two runs, from disk. No console error, no request leaves the page, every plot drew the
// series and points its data holds (read from the chart objects), the partial banner shows,
// a table sorts. A screenshot of each shipped experiment's report goes to results/<name>/.
// Skipped, saying why, only where Chromium is not installed (.ci/run installs it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareRuns } from '../src/measure/compare.js';
import { parseResults, type RunResults } from '../src/measure/results.js';
import { buildReport, type ReportRun } from '../src/report/build.js';
import { renderReportHtml } from '../src/report/html.js';
import type { ReportData } from '../src/report/model.js';
import { browserMissing, launchBrowser, type Browser, type OpenedReport } from './support/browser.js';
import { latencies, makeConfig, makeRun, sampleAttribution } from './support/run_results.js';

const SHIPPED = ['kara-2017', 'ordering-tax', 'fsync-crossover', 'contention', 'optane'] as const;
const repo = fileURLToPath(new URL('..', import.meta.url));
const reference = (name: string): RunResults => parseResults(readFileSync(path.join(repo, 'results', name, 'reference', 'results.json'), 'utf8'));

const missing = browserMissing();
if (missing !== null) console.log(`report browser tests skipped: ${missing}`);

describe.skipIf(missing !== null)('the report in Chromium', () => {
  let browser: Browser;
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'daxlab-browser-'));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Writes the report of runs, opens it, and checks it drew all its data and nothing else. */
  async function openChecked(name: string, runs: ReportRun[], options: Parameters<typeof buildReport>[1] = {}): Promise<OpenedReport & { data: ReportData }> {
    const data = buildReport(runs, options);
    const file = path.join(tmp, `${name}.html`);
    writeFileSync(file, renderReportHtml(data));
    const opened = await browser.open(file);
    expect(opened.consoleErrors, name).toEqual([]);
    expect(opened.network, name).toEqual([]);
    const plots = data.sections.flatMap((s) => s.plots);
    const drawn = await opened.page.$$eval('.chart', (els) => els.map((e) => ({ id: e.id, series: e.getAttribute('data-series'), points: e.getAttribute('data-points'), canvases: e.querySelectorAll('canvas').length })));
    expect(drawn.map((d) => d.id)).toEqual(plots.map((p) => p.id));
    for (const p of plots) {
      const d = drawn.find((x) => x.id === p.id)!;
      const points = p.series.reduce((n, s) => n + s.y.filter((y) => y !== null).length, 0);
      expect({ id: p.id, series: Number(d.series), points: Number(d.points) }).toEqual({ id: p.id, series: p.series.length, points });
      if (p.series.length > 0) expect(d.canvases, p.id).toBe(1);
    }
    // Attribution: a bar per configuration and figure, a segment per step with a share.
    for (const chart of data.attribution) {
      const segments = await opened.page.$$eval(`#${chart.id} .attr-bar`, (els) => els.map((e) => Number(e.getAttribute('data-segments'))));
      expect(segments).toEqual(chart.bars.map((b) => b.shares.filter((s) => s > 0).length));
    }
    for (const t of data.tables) expect(await opened.page.locator(`#${t.id} tbody tr`).count(), t.id).toBe(t.rows.length);
    return { ...opened, data };
  }

  for (const name of SHIPPED) {
    it(`draws ${name}'s reference run, and saves its screenshot`, async () => {
      const { page, drawnMs, firstScreenMs, data } = await openChecked(name, [{ label: `results/${name}/reference`, results: reference(name) }]);
      expect(await page.locator('.partial').count()).toBe(0);
      if (name === 'ordering-tax') {
        console.log(`ordering-tax (${data.runs[0].configs} configurations): first screen drawn at ${firstScreenMs} ms, every plot at ${drawnMs} ms`);
      }
      // The page lays out off-screen plots only when scrolled to (content-visibility): all of it for the picture.
      await page.addStyleTag({ content: 'figure.plot, section.table { content-visibility: visible !important; }' });
      await page.screenshot({ path: path.join(repo, 'results', name, 'report.png'), fullPage: true });
      await page.close();
    });
  }

  it('shows the partial banner for a partial run, and draws its attribution', async () => {
    const run = makeRun(
      [
        makeConfig('sync', { 'sync-fault': latencies(300, 60_000, 40_000) }, { attribution: { 'sync-fault': sampleAttribution(300) }, partial: true }),
        makeConfig('nosync', { 'write-fault': latencies(300, 9_000, 3_000, 5) }),
      ],
      { partial: true, failure: 'cpu 1 (faulter) got SIGBUS' },
    );
    const { page, consoleErrors, data } = await openChecked('partial', [{ label: 'partial', results: run }]);
    const banner = page.locator('.partial');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toMatch(/^Partial run: .*\(cpu 1 \(faulter\) got SIGBUS\)/);
    expect(await page.locator('.attr-bar').count()).toBe(2);
    // Dark, then printed: the charts are drawn anew in the page's colours, every one, without error.
    // (The browser tells the page of a media change at its next frame: wait for the redraw.)
    const axisColours = () =>
      page.evaluate(() =>
        (globalThis as unknown as { daxlabCharts: { u: { axes: { stroke: (u: unknown, i: number) => string }[] } }[] }).daxlabCharts.map((c) => c.u.axes[0].stroke(c.u, 0)),
      );
    const redrawnFrom = async (before: string) => {
      await page.waitForFunction(
        (b) => (globalThis as unknown as { daxlabCharts: { u: { axes: { stroke: (u: unknown, i: number) => string }[] } }[] }).daxlabCharts.every((c) => c.u.axes[0].stroke(c.u, 0) !== b),
        before,
        { timeout: 5000 },
      );
      return axisColours();
    };
    const plots = data.sections.flatMap((x) => x.plots).length;
    const light = await axisColours();
    expect(new Set(light).size).toBe(1);
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await redrawnFrom(light[0]);
    await page.emulateMedia({ media: 'print', colorScheme: 'dark' });
    const printed = await redrawnFrom(dark[0]);
    expect([dark.length, printed.length]).toEqual([plots, plots]);
    expect(printed[0]).toBe('#000');
    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('overlays two runs with the comparison table, and sorts a table by a heading', async () => {
    const a = reference('contention');
    const { page } = await openChecked(
      'compare',
      [
        { label: 'a', results: a },
        { label: 'b', results: a },
      ],
      { comparison: compareRuns(a, a, { labels: ['a', 'b'] }) },
    );
    expect(await page.locator('#table-compare tbody tr').count()).toBeGreaterThan(0);
    const series = await page.getAttribute('#hist-write-fault', 'data-series');
    expect(Number(series)).toBe(2 * a.configs.length);
    // Sorting by contentions, most first: the column reads in descending order.
    await page.click('#table-locks th:nth-child(3)');
    const cells = await page.$$eval('#table-locks tbody tr td:nth-child(3)', (tds) => tds.map((td) => Number(td.textContent!.replace(/,/g, ''))));
    expect(cells).toEqual([...cells].sort((x, y) => y - x));
    expect(cells[0]).toBeGreaterThan(0);
    await page.close();
  });
});
