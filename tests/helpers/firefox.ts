/**
 * Real Firefox (ESR) with the built Firefox extension, driven by puppeteer-core over WebDriver BiDi
 * (no downloaded browsers). The extension is installed permanently into the profile as an unsigned
 * XPI, so a restart on the same profile keeps the add-on and its storage.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

const CANDIDATES = [process.env.FIREFOX_PATH, '/usr/bin/firefox-esr', '/usr/bin/firefox'];

export function findFirefox(): string {
  const found = CANDIDATES.find((p): p is string => !!p && existsSync(p));
  if (!found) {
    throw new Error('No Firefox found for the end-to-end tests. Install it with `apt-get install -y firefox-esr` (or set FIREFOX_PATH to a Firefox binary).');
  }
  return found;
}

/** The add-on id from wxt.config.ts (browser_specific_settings.gecko.id). */
export const GECKO_ID = 'partychat@partychat.dev';

/** Firefox gives every installed add-on a random internal UUID; the test fixes it (pref below) so page URLs are known. */
export const EXTENSION_UUID = '5f3c2a4e-8d1b-4c6a-9e7f-2b1d0c9a8e61';

export interface FirefoxWithExtension {
  browser: Browser;
  userDataDir: string;
  /** `moz-extension://<uuid>`, the origin of the extension's pages. */
  origin: string;
  /** Opens the side panel page as a normal tab (sized like the side panel) and waits until the app shows something. */
  openPanel(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Starts Firefox on `userDataDir` with the extension installed in the profile (written on the first
 * launch, kept on later ones). Pages of the extension fire no load event the automation sees: callers
 * wait for content, never for navigation.
 */
export async function launchFirefoxWithExtension(options: { firefoxPath: string; extensionDir: string; userDataDir: string }): Promise<FirefoxWithExtension> {
  const extensions = join(options.userDataDir, 'extensions');
  const xpi = join(extensions, `${GECKO_ID}.xpi`);
  if (!existsSync(xpi)) {
    mkdirSync(extensions, { recursive: true });
    writeFileSync(xpi, zipDirectory(options.extensionDir));
  }
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: options.firefoxPath,
    headless: true,
    userDataDir: options.userDataDir,
    // Lets automation navigate to moz-extension:// pages.
    args: ['--remote-allow-system-access'],
    extraPrefsFirefox: {
      // An unsigned add-on in the profile's extensions/ directory: allowed on ESR, enabled without asking.
      'xpinstall.signatures.required': false,
      'extensions.autoDisableScopes': 0,
      'extensions.enabledScopes': 15,
      'extensions.webextensions.uuids': JSON.stringify({ [GECKO_ID]: EXTENSION_UUID }),
      'intl.locale.requested': 'en-US',
      'intl.accept_languages': 'en-US, en',
    },
  });
  const origin = `moz-extension://${EXTENSION_UUID}`;
  return {
    browser,
    userDataDir: options.userDataDir,
    origin,
    async openPanel() {
      const page = await browser.newPage();
      await page.setViewport({ width: 400, height: 820 });
      // The add-on starts a moment after the browser: until it does, the URL is not served yet. Retry the navigation
      // until the app has mounted (any view of it: onboarding, unlock or the room list).
      const deadline = Date.now() + 60_000;
      for (;;) {
        page.goto(`${origin}/sidepanel.html`, { timeout: 0 }).catch(() => undefined);
        const shown = await page
          .waitForSelector('#app [data-testid]', { timeout: 10_000 })
          .then(() => true)
          .catch(() => false);
        if (shown) return page;
        if (Date.now() > deadline) throw new Error(
            `the extension's side panel did not show in Firefox within 60 s (${page.url()}). A release Firefox refuses unsigned add-ons: use Firefox ESR (\`apt-get install -y firefox-esr\`), Developer Edition or Nightly.`,
          );
      }
    },
    close: () => browser.close(),
  };
}

/** A stored (uncompressed) ZIP of a directory: what an .xpi is. */
export function zipDirectory(dir: string): Buffer {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(dir);
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const path of files) {
    const name = Buffer.from(relative(dir, path).split(sep).join('/'));
    const data = readFileSync(path);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt32LE(0x00210000, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, data);
    centrals.push(central, name);
    offset += local.length + name.length + data.length;
  }
  const centralSize = centrals.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, ...centrals, end]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
