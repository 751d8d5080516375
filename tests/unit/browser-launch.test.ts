// @vitest-environment node
/**
 * How `npm start` launches Chromium (scripts/browser-launch.mjs, issue 13 bug 6): no `--no-sandbox`
 * (and so no "unsupported command-line flag" bar) unless running as root, the browser closed by the
 * script rather than killed, no "Restore pages?" prompt, and the extension pinned. No browser runs here.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromiumLaunchOptions, needsNoSandbox, onceThenExit, prepareProfile, unpackedExtensionId } from '../../scripts/browser-launch.mjs';

const base = { executablePath: '/usr/bin/chromium', extensionDir: '/home/al/partychat/.output/chrome-mv3' };

describe('chromiumLaunchOptions', () => {
  it('keeps the sandbox on for a normal user with a display (no --no-sandbox bar)', () => {
    const options = chromiumLaunchOptions({ ...base, platform: 'linux', uid: 1000, env: { DISPLAY: ':0' } });
    // Playwright adds --no-sandbox unless chromiumSandbox is true.
    expect(options.chromiumSandbox).toBe(true);
    expect(options.args).not.toContain('--no-sandbox');
  });

  it.each([
    ['root on Linux', 'linux', 0, {}, true],
    ['root on Linux, forbidden by PARTYCHAT_NO_SANDBOX=0', 'linux', 0, { PARTYCHAT_NO_SANDBOX: '0' }, false],
    ['a user who forces it (PARTYCHAT_NO_SANDBOX=1)', 'linux', 1000, { PARTYCHAT_NO_SANDBOX: '1' }, true],
    ['a user on macOS', 'darwin', 501, {}, false],
    ['Windows (no uid)', 'win32', null, {}, false],
  ])('turns the sandbox off only when needed: %s', (_case, platform, uid, env, off) => {
    expect(needsNoSandbox({ platform, uid, env })).toBe(off);
    expect(chromiumLaunchOptions({ ...base, platform, uid, env }).chromiumSandbox).toBe(!off);
  });

  it('loads only the extension, hides the restore bubble, and leaves Ctrl+C to the script', () => {
    const options = chromiumLaunchOptions({ ...base, platform: 'linux', uid: 1000, env: {} });
    expect(options.args).toEqual(
      expect.arrayContaining([
        `--disable-extensions-except=${base.extensionDir}`,
        `--load-extension=${base.extensionDir}`,
        '--no-first-run',
        '--hide-crash-restore-bubble',
      ]),
    );
    expect(options).toMatchObject({ headless: false, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false, executablePath: base.executablePath });
  });
});

describe('unpackedExtensionId', () => {
  it('is Chromium’s id for an unpacked extension: SHA-256 of the path, 32 letters a–p', () => {
    const id = unpackedExtensionId('/tmp/ux-notes/ext');
    // Chromium 156 gave this id to an extension loaded from /tmp/ux-notes/ext.
    expect(id).toBe('fpkogocdnggememnnpfnpdcdlhcjfkig');
    expect(unpackedExtensionId(base.extensionDir)).toMatch(/^[a-p]{32}$/);
  });
});

describe('prepareProfile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'partychat-profile-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const read = () => JSON.parse(readFileSync(join(dir, 'Default/Preferences'), 'utf8'));

  it('marks a crashed last session as ended normally and pins the extension, keeping other preferences', () => {
    mkdirSync(join(dir, 'Default'));
    writeFileSync(
      join(dir, 'Default/Preferences'),
      JSON.stringify({ profile: { exit_type: 'Crashed', exited_cleanly: false, name: 'Me' }, extensions: { pinned_extensions: ['other'], ui: { x: 1 } }, homepage: 'a' }),
    );
    prepareProfile(dir, 'pinme');
    expect(read()).toEqual({
      profile: { exit_type: 'Normal', exited_cleanly: true, name: 'Me' },
      extensions: { pinned_extensions: ['other', 'pinme'], ui: { x: 1 } },
      homepage: 'a',
    });
    prepareProfile(dir, 'pinme');
    expect(read().extensions.pinned_extensions).toEqual(['other', 'pinme']);
  });

  it('creates the preferences of a new profile', () => {
    prepareProfile(dir, 'pinme');
    expect(read()).toEqual({ profile: { exit_type: 'Normal', exited_cleanly: true }, extensions: { pinned_extensions: ['pinme'] } });
  });
});

describe('onceThenExit', () => {
  it('closes once and then exits 0; a second signal while closing exits at once', async () => {
    let finish = () => {};
    const close = vi.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    const exit = vi.fn();
    const stop = onceThenExit(close, exit);
    stop();
    expect(close).toHaveBeenCalledTimes(1);
    expect(exit).not.toHaveBeenCalled();
    stop();
    expect(close).toHaveBeenCalledTimes(1);
    expect(exit).toHaveBeenCalledWith(130);
    finish();
    await vi.waitFor(() => expect(exit).toHaveBeenCalledWith(0));
  });
});
