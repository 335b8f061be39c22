/**
 * Headless Chromium (Debian's `chromium`) driven by playwright-core, for the River UI test.
 * playwright-core is loaded with Node's resolver, so NODE_PATH can point at an install outside
 * the project (.ci/run does that until it is a dev dependency). Only the calls the test makes
 * are typed, by hand.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export interface Locator {
  click(): Promise<void>;
  waitFor(options?: { state?: 'visible' | 'attached'; timeout?: number }): Promise<void>;
  innerText(): Promise<string>;
  first(): Locator;
  filter(options: { visible?: boolean }): Locator;
}

export interface Page {
  goto(url: string): Promise<unknown>;
  getByText(text: string | RegExp, options?: { exact?: boolean }): Locator;
  getByRole(role: string, options?: { name?: string | RegExp; exact?: boolean }): Locator;
  locator(selector: string): Locator;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
}

export interface Browser {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface PlaywrightCore {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      options: { executablePath: string; headless: boolean; args: string[] },
    ): Promise<Browser>;
  };
}

/** Launches Chromium headless with a fresh profile; `close` removes the profile too. */
export async function launchChromium(): Promise<Browser> {
  const require = createRequire(import.meta.url);
  let playwright: PlaywrightCore;
  try {
    playwright = require('playwright-core') as PlaywrightCore;
  } catch (error) {
    throw new Error(
      'the River UI test needs playwright-core: npm install --no-save playwright-core@1.65.2 (or set NODE_PATH to a node_modules that has it)',
      { cause: error },
    );
  }
  const profile = mkdtempSync(join(tmpdir(), 'eddy-chromium-'));
  const context = await playwright.chromium.launchPersistentContext(profile, {
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
