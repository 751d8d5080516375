// How `npm start` (scripts/start.mjs) launches Chromium with the extension: the launch options, the
// profile preferences written before the launch, and the extension id Chromium gives an unpacked
// extension. Plain functions without side effects beyond the profile folder, so they can be unit
// tested without a browser (tests/unit/browser-launch.test.ts).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Whether Chromium must run without its sandbox. Playwright passes `--no-sandbox` unless told
 * otherwise, which makes Chromium show the "unsupported command-line flag" bar. Only root on Linux
 * needs it (Chromium refuses to start as root with the sandbox on); `PARTYCHAT_NO_SANDBOX=1` forces it
 * where the sandbox cannot work (e.g. a container without user namespaces), `=0` forbids it.
 * @param {{ platform: string; uid: number | null; env: Record<string, string | undefined> }} where
 */
export function needsNoSandbox({ platform, uid, env }) {
  if (env.PARTYCHAT_NO_SANDBOX === '1') return true;
  if (env.PARTYCHAT_NO_SANDBOX === '0') return false;
  return platform === 'linux' && uid === 0;
}

/**
 * The id Chromium gives an extension loaded unpacked from `dir`: the first 32 hex digits of the
 * SHA-256 of its absolute path, written with the letters a–p instead of 0–f.
 * @param {string} dir
 */
export function unpackedExtensionId(dir) {
  const hex = createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 32);
  return [...hex].map((digit) => String.fromCharCode('a'.charCodeAt(0) + parseInt(digit, 16))).join('');
}

/**
 * The options for playwright's `chromium.launchPersistentContext` (without the profile folder).
 * - the sandbox stays on unless `needsNoSandbox`;
 * - playwright does not handle Ctrl+C itself: start.mjs closes the browser properly first (a browser
 *   that is killed asks to restore its pages on the next start);
 * - `--hide-crash-restore-bubble`: should it still have been killed, no "Restore pages?" bubble.
 * @param {{ executablePath: string; extensionDir: string; platform: string; uid: number | null; env: Record<string, string | undefined> }} input
 */
export function chromiumLaunchOptions({ executablePath, extensionDir, platform, uid, env }) {
  const noSandbox = needsNoSandbox({ platform, uid, env });
  return {
    executablePath,
    headless: false,
    viewport: null,
    chromiumSandbox: !noSandbox,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: [
      `--disable-extensions-except=${extensionDir}`,
      `--load-extension=${extensionDir}`,
      '--no-first-run',
      '--no-default-browser-check',
      '--hide-crash-restore-bubble',
    ],
  };
}

/**
 * Prepares the profile's preferences before a launch: the last session counts as ended normally (so
 * no "Restore pages?" prompt even if the browser was killed last time), and the extension is pinned
 * to the toolbar (`extensions.pinned_extensions`, Chromium's own preference for pinned extensions).
 * Creates the profile if needed; keeps every other preference.
 * @param {string} profileDir the user data dir given to the browser
 * @param {string} extensionId
 */
export function prepareProfile(profileDir, extensionId) {
  const dir = join(profileDir, 'Default');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'Preferences');
  /** @type {Record<string, any>} */
  let prefs = {};
  if (existsSync(file)) {
    try {
      prefs = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      prefs = {};
    }
  }
  prefs.profile = { ...prefs.profile, exit_type: 'Normal', exited_cleanly: true };
  const pinned = Array.isArray(prefs.extensions?.pinned_extensions) ? prefs.extensions.pinned_extensions : [];
  prefs.extensions = { ...prefs.extensions, pinned_extensions: pinned.includes(extensionId) ? pinned : [...pinned, extensionId] };
  writeFileSync(file, JSON.stringify(prefs));
  return prefs;
}

/**
 * Runs `close` (closing the browser properly, stopping the server) once, however many signals come;
 * a second Ctrl+C while closing exits at once.
 * @param {() => Promise<void>} close
 * @param {(code: number) => void} exit
 */
export function onceThenExit(close, exit) {
  let closing = false;
  return () => {
    if (closing) return exit(130);
    closing = true;
    close().then(
      () => exit(0),
      () => exit(1),
    );
  };
}
