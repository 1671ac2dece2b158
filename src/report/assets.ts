// The files a report inlines: uPlot (script and stylesheet) and the page's own script and
// stylesheet. Read once per process; a report holds them whole so it opens with no network.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { packageRoot } from '../util/package_root.js';

export interface ReportAssets {
  uplotJs: string;
  uplotCss: string;
  pageJs: string;
  pageCss: string;
}

let cached: ReportAssets | null = null;

export function reportAssets(): ReportAssets {
  if (cached !== null) return cached;
  const require = createRequire(import.meta.url);
  const own = (name: string) => readFileSync(new URL(`src/report/client/${name}`, packageRoot()), 'utf8');
  cached = {
    uplotJs: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'),
    uplotCss: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'),
    pageJs: own('report.js'),
    pageCss: own('report.css'),
  };
  return cached;
}
