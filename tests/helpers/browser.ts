/** Real Chromium with the built extension, driven by playwright-core (no downloaded browsers). */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function findChromium(): string {
  const found = CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (!found) {
    throw new Error('No Chromium found for the end-to-end tests. Install it with `apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium/Chrome binary).');
  }
  return found;
}

export interface ExtensionBrowser {
  context: BrowserContext;
  extensionId: string;
  userDataDir: string;
  /** Opens the side panel page as a normal tab. */
  openPanel(): Promise<Page>;
  close(): Promise<void>;
}

export function newProfileDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `partychat-${name}-`));
}

export interface LaunchOptions {
  chromiumPath: string;
  extensionDir: string;
  userDataDir: string;
  /** The browser's language (`navigator.languages`), e.g. `zh-TW`; `en-US` when not given. */
  locale?: string;
}

/**
 * A browser with a new profile named after `name`. On a busy machine the extension's service worker
 * occasionally takes longer to start than `launchWithExtension` waits; one more try with another new profile then.
 */
export async function launchFresh(name: string, options: Omit<LaunchOptions, 'userDataDir'>): Promise<ExtensionBrowser> {
  try {
    return await launchWithExtension({ ...options, userDataDir: newProfileDir(name) });
  } catch (error) {
    if (!/serviceworker/i.test(String(error))) throw error;
    return launchWithExtension({ ...options, userDataDir: newProfileDir(`${name}-retry`) });
  }
}

export async function launchWithExtension(options: LaunchOptions): Promise<ExtensionBrowser> {
  const context = await chromium.launchPersistentContext(options.userDataDir, {
    executablePath: options.chromiumPath,
    headless: true,
    locale: options.locale ?? 'en-US',
    args: [
      `--disable-extensions-except=${options.extensionDir}`,
      `--load-extension=${options.extensionDir}`,
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  // Listen before looking, so a worker that starts in between is not missed.
  const started = context.waitForEvent('serviceworker', { timeout: 60_000 });
  const worker = context.serviceWorkers()[0] ?? (await started);
  started.catch(() => undefined);
  const extensionId = new URL(worker.url()).host;
  return {
    context,
    extensionId,
    userDataDir: options.userDataDir,
    async openPanel() {
      const page = await context.newPage();
      await page.goto(`chrome-extension://${extensionId}/sidepanel.html`);
      return page;
    },
    close: () => context.close(),
  };
}
