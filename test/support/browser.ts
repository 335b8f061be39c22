/**
 * Headless Chromium (Debian's `chromium`, installed by .ci/run when missing) driven by
 * playwright-core, for the tests of pages: a fresh profile each launch, and the flags that keep
 * it from reaching for the (closed) network.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';

export type { Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** What a test may change of the browser: JavaScript off, say. */
export interface BrowserOptions {
  javaScriptEnabled?: boolean;
}

/** Launches Chromium headless with a fresh profile; `close` removes the profile too. */
export async function launchChromium(options: BrowserOptions = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'eddy-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    ...options,
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  return {
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
