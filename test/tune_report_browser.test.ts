// tune's HTML report in headless Chromium: a tune of ordering-tax's three dirtying rates on a
// synthetic evaluator (no lab runs) opens with no console error and no request, and each
// situation's front plot draws, as points alone, every policy its data holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readWorkload } from '../src/workload/expand.js';
import { parseObjective } from '../src/tune/expr.js';
import { prepareTune } from '../src/tune/situations.js';
import { runTune } from '../src/tune/tune.js';
import { tuneReportData, tuneReportHtml } from '../src/tune/report.js';
import type { Evaluator } from '../src/tune/search.js';
import { browserMissing, launchBrowser, type Browser } from './support/browser.js';

const missing = browserMissing();

describe.skipIf(missing !== null)('the tune report in Chromium', () => {
  let browser: Browser;
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'daxlab-tune-browser-'));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('draws each situation\'s front with every policy measured', async () => {
    const { raw, source } = readWorkload('ordering-tax');
    const setup = prepareTune(raw, [{ path: 'cpus[0].intervalUs', value: 10000 }], source, {});
    const evaluator: Evaluator = async (reqs) =>
      reqs.map((q) => ({
        'p99:sync-fault': 150 - (q.policy['journal.fastCommit'] ? 120 : 0) + (q.repeat % 3),
        journalBlocksPerSec: 500 - (q.policy['journal.fastCommit'] ? 380 : 0) + (q.policy['journal.commitIntervalMs'] === 1000 ? 7 : 0),
        commitsPerSec: 107,
      }));
    const t = await runTune(setup, {
      source,
      config: null,
      seed: 1,
      budget: 20,
      objective: parseObjective('p99:sync-fault'),
      constraints: [],
      frontMetrics: ['p99:sync-fault', 'journalBlocksPerSec', 'commitsPerSec'],
      version: 'test',
      evaluatorFor: () => evaluator,
    });
    const data = tuneReportData(t);
    const file = path.join(tmp, 'tune.html');
    writeFileSync(file, tuneReportHtml(t));
    const opened = await browser.open(file);
    expect(opened.consoleErrors).toEqual([]);
    expect(opened.network).toEqual([]);
    const plots = data.sections.flatMap((s) => s.plots);
    expect(plots).toHaveLength(3);
    const drawn = await opened.page.$$eval('.chart', (els) => els.map((e) => ({ id: e.id, kind: e.getAttribute('data-plot'), series: Number(e.getAttribute('data-series')), points: Number(e.getAttribute('data-points')) })));
    for (const p of plots) {
      const d = drawn.find((x) => x.id === p.id)!;
      expect(d.kind).toBe('scatter');
      expect(d.series).toBe(p.series.length);
      expect(d.points).toBe(p.series.reduce((n, s) => n + s.y.filter((y) => y !== null).length, 0));
      expect(p.series.some((s) => s.label.startsWith('recommended: '))).toBe(true);
    }
    for (const tb of data.tables) expect(await opened.page.locator(`#${tb.id} tbody tr`).count()).toBe(tb.rows.length);
    await opened.page.close();
  });
});
