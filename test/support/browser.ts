// Headless Chromium for the report tests, driven by playwright-core: Debian's chromium
// (.ci/run installs it), with a fresh profile and its background services off, since this
// machine's closed network refuses Chromium's own connections. Every request the page makes
// is routed here: file: and data: go through, anything else is recorded and aborted.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or null when they can. */
export function browserMissing(): string | null {
  return existsSync(CHROMIUM) ? null : `${CHROMIUM} is not installed (apt-get install -y chromium; .ci/run does it where apt-get works)`;
}

export interface OpenedReport {
  page: Page;
  consoleErrors: string[];
  /** URLs the page asked for that were not file: or data:. */
  network: string[];
  /** ms from navigation start until the page had drawn every plot. */
  drawnMs: number;
  /** ms from navigation start until the first screen was drawn. */
  firstScreenMs: number;
}

export interface Browser {
  open(file: string, options?: { colorScheme?: 'light' | 'dark' }): Promise<OpenedReport>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(path.join(os.tmpdir(), 'daxlab-chromium-'));
  const context: BrowserContext = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  });
  return {
    async open(file, options = {}) {
      const page = await context.newPage();
      await page.emulateMedia({ colorScheme: options.colorScheme ?? 'light' });
      const consoleErrors: string[] = [];
      const network: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') consoleErrors.push(m.text());
      });
      page.on('pageerror', (e) => consoleErrors.push(String(e)));
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
        network.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(path.resolve(file)).href);
      await page.waitForSelector('body[data-ready="1"]', { timeout: 20_000 });
      const drawnMs = Number(await page.getAttribute('body', 'data-drawn-ms'));
      const firstScreenMs = Number(await page.getAttribute('body', 'data-first-screen-ms'));
      return { page, consoleErrors, network, drawnMs, firstScreenMs };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
