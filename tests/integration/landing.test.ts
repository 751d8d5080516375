/**
 * The pages the party server serves to browsers (issue 9 attack 2, issue 13): the invite landing page
 * (`/join/<room>/<link>`, opened by people without the extension) and the server root (`/`). Both run
 * no script at all, so nothing the server sends can read the link's `#secret`: a Content-Security-Policy
 * that allows no script, and no script in the HTML. The root page says what the server is, in English
 * or Traditional Chinese, and points to where the host publishes the extension (PARTYCHAT_EXTENSION_URL).
 */
import { inject } from 'vitest';
import { randomHex } from '@/shared/encoding';
import { landingPage, rootPage, safeExtensionUrl } from '@/party/landing';
import { startParty, type RunningParty } from '../helpers/party-server';

const host = inject('partyHost');
const EXTENSION_URL = 'https://example.org/get-partychat?from=server&x=1';

function joinPath(): string {
  return `/join/${randomHex(16)}/${randomHex(16)}`;
}

/** The policy's directives, by name. */
function directives(policy: string | null): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of (policy ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) map.set(name.toLowerCase(), values);
  }
  return map;
}

/** Asserts the response is an HTML page that can run no script, by header and by content. */
async function expectScriptFree(res: Response): Promise<string> {
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
  expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  const csp = directives(res.headers.get('content-security-policy'));
  expect(csp.get('default-src')).toEqual(["'none'"]);
  expect(csp.get('style-src')).toEqual(["'unsafe-inline'"]);
  // Nothing loosens default-src for scripts, frames, connections, forms or the base URL.
  for (const name of ['script-src', 'script-src-elem', 'script-src-attr', 'connect-src', 'frame-src', 'child-src', 'worker-src', 'img-src']) expect(csp.has(name), name).toBe(false);
  expect(csp.get('base-uri')).toEqual(["'none'"]);
  expect(csp.get('form-action')).toEqual(["'none'"]);
  expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
  const html = await res.text();
  expect(html).not.toMatch(/<script/i);
  expect(html).not.toMatch(/\son[a-z]+\s*=/i); // no inline event handlers
  expect(html).not.toMatch(/javascript:/i);
  expect(html).not.toMatch(/<(iframe|object|embed|form|base|link|meta http-equiv)\b/i);
  return html;
}

describe('the invite landing page (no extension installed)', () => {
  it.each([
    ['en-US,en;q=0.9', 'en', 'You are invited to a PartyChat room'],
    ['zh-TW,zh;q=0.9,en;q=0.8', 'zh-Hant-TW', '你受邀加入一個 PartyChat 聊天室'],
  ])('runs no script and has a CSP that allows none (Accept-Language %s)', async (language, lang, title) => {
    const res = await fetch(`http://${host}${joinPath()}`, { headers: { 'Accept-Language': language } });
    const html = await expectScriptFree(res);
    expect(html).toContain(`<html lang="${lang}">`);
    expect(html).toContain(title);
    // Both languages are on the page (the other one folded away), without script.
    expect(html).toContain('install the PartyChat browser extension');
    expect(html).toContain('安裝 PartyChat 瀏覽器擴充功能');
  });

  it('also for a trailing slash, and not for other paths', async () => {
    await expectScriptFree(await fetch(`http://${host}${joinPath()}/`));
    const other = await fetch(`http://${host}/elsewhere`);
    expect(other.status).toBe(404);
    await other.body?.cancel();
  });
});

describe('the server root page', () => {
  it.each([
    ['en-US,en;q=0.9', 'en', 'This is a PartyChat server', 'Ask the person who runs this server'],
    ['zh-TW,zh;q=0.9', 'zh-Hant-TW', '這是一台 PartyChat 伺服器', '向架設這台伺服器的人'],
    ['', 'en', 'This is a PartyChat server', 'Ask the person who runs this server'],
  ])('says what the server is and how to get the extension (Accept-Language "%s")', async (language, lang, title, howToGet) => {
    const res = await fetch(`http://${host}/`, { headers: language ? { 'Accept-Language': language } : {} });
    const html = await expectScriptFree(res);
    expect(html).toContain(`<html lang="${lang}">`);
    expect(html).toContain(`<h1>${title}</h1>`);
    expect(html).toContain(howToGet);
    expect(html).not.toContain('Not found');
  });

  describe('with PARTYCHAT_EXTENSION_URL set', () => {
    let party: RunningParty;
    beforeAll(async () => {
      party = await startParty({ vars: { PARTYCHAT_EXTENSION_URL: EXTENSION_URL } });
    });
    afterAll(() => party.stop());

    it.each(['/', joinPath()])('%s links to where the host publishes the extension', async (path) => {
      for (const language of ['en', 'zh-TW']) {
        const html = await expectScriptFree(await fetch(`http://${party.host}${path}`, { headers: { 'Accept-Language': language } }));
        expect(html).toContain(`<a href="https://example.org/get-partychat?from=server&amp;x=1" rel="noopener noreferrer">`);
      }
    });
  });

  it('takes only an http(s) address as the extension link, escaped', () => {
    expect(safeExtensionUrl('javascript:alert(1)')).toBeNull();
    expect(safeExtensionUrl('data:text/html,<script>x</script>')).toBeNull();
    expect(safeExtensionUrl('not a url')).toBeNull();
    expect(safeExtensionUrl(undefined)).toBeNull();
    expect(safeExtensionUrl('https://example.org/a"><script>')).toBe('https://example.org/a%22%3E%3Cscript%3E');
    for (const page of [rootPage('en', 'javascript:alert(1)'), landingPage('en', 'javascript:alert(1)')]) {
      expect(page).not.toMatch(/javascript:|<script/i);
      expect(page).toContain('Ask the person who runs this server');
    }
  });
});
