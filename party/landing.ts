/**
 * The pages the party server shows to browsers: the one an invite link opens when the extension is
 * not installed (with it installed, the extension redirects `/join/…` to its own page before any
 * request is made, so this page never sees a link), and the server root (`/`). English and Traditional
 * Chinese, chosen by Accept-Language, with the other language folded away on the same page.
 *
 * Neither page runs script: an invite link's secret is in the URL fragment (`#…`), which one line of
 * script on this origin could read. The pages contain no script and are served with a
 * Content-Security-Policy that allows none (`PAGE_HEADERS`).
 */

/** Headers for every page: no script, no plugins, no frames, no forms, nothing loaded from anywhere; inline styles only. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

type Language = 'en' | 'zh-TW';

const TEXT = {
  en: {
    lang: 'en',
    title: 'You are invited to a PartyChat room',
    lead: 'Someone sent you an invite to an end-to-end encrypted group chat.',
    how: 'To join, install the PartyChat browser extension, then open this link again (or paste it into PartyChat under “Join with a link”).',
    privacy: 'This server only relays encrypted messages. The secret part of your link (after the #) never leaves your browser.',
    rootTitle: 'This is a PartyChat server',
    rootLead: 'PartyChat is an end-to-end encrypted group chat that lives in a browser extension for Chrome and Firefox. This server only relays encrypted messages between the members of its rooms; it cannot read them.',
    rootHow: 'To chat here, install the extension, then open an invite link someone sent you, or type this server’s address in PartyChat.',
    getAt: 'Get the PartyChat extension:',
    getAsk: 'Ask the person who runs this server where to get the PartyChat extension for Chrome or Firefox, or build it from the project’s source (npm run build).',
    other: '繁體中文',
  },
  'zh-TW': {
    lang: 'zh-Hant-TW',
    title: '你受邀加入一個 PartyChat 聊天室',
    lead: '有人邀請你加入一個端對端加密的群組聊天。',
    how: '要加入，請先安裝 PartyChat 瀏覽器擴充功能，然後再次開啟這個連結（或在 PartyChat 的「用連結加入」貼上它）。',
    privacy: '這台伺服器只轉送加密過的訊息。連結中 # 之後的祕密部分永遠不會離開你的瀏覽器。',
    rootTitle: '這是一台 PartyChat 伺服器',
    rootLead: 'PartyChat 是一個端對端加密的群組聊天，以 Chrome 與 Firefox 的瀏覽器擴充功能運作。這台伺服器只在聊天室成員之間轉送加密過的訊息，無法讀取內容。',
    rootHow: '要在這裡聊天，請安裝擴充功能，然後開啟別人傳給你的邀請連結，或在 PartyChat 中輸入這台伺服器的位址。',
    getAt: '取得 PartyChat 擴充功能：',
    getAsk: '請向架設這台伺服器的人詢問哪裡可以取得 Chrome 或 Firefox 的 PartyChat 擴充功能，或從專案原始碼自行建置（npm run build）。',
    other: 'English',
  },
} as const;

export function pickLanguage(acceptLanguage: string): Language {
  return /(^|,)\s*zh(-(tw|hant|hk|mo))?\b/i.test(acceptLanguage) && !/(^|,)\s*zh-(cn|hans|sg)\b/i.test(acceptLanguage.split(',')[0] ?? '')
    ? 'zh-TW'
    : 'en';
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** The extension's download address from the server's setting, only if it is an http(s) URL (normalised, so quotes and brackets are percent-encoded). */
export function safeExtensionUrl(setting: string | undefined): string | null {
  if (!setting) return null;
  try {
    const url = new URL(setting.trim());
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

function getExtension(lang: Language, extensionUrl: string | null): string {
  const t = TEXT[lang];
  if (!extensionUrl) return `<p>${t.getAsk}</p>`;
  const href = escapeHtml(extensionUrl);
  return `<p>${t.getAt} <a href="${href}" rel="noopener noreferrer">${href}</a></p>`;
}

function invite(lang: Language, extensionUrl: string | null): string {
  const t = TEXT[lang];
  return `<h1>${t.title}</h1>
  <p>${t.lead}</p>
  <p>${t.how}</p>
  ${getExtension(lang, extensionUrl)}
  <p class="small">${t.privacy}</p>`;
}

function root(lang: Language, extensionUrl: string | null): string {
  const t = TEXT[lang];
  return `<h1>${t.rootTitle}</h1>
  <p>${t.rootLead}</p>
  <p>${t.rootHow}</p>
  ${getExtension(lang, extensionUrl)}`;
}

/** The page in the reader's language, with the other language in a `<details>` (no script needed to switch). */
function page(acceptLanguage: string, body: (lang: Language) => string): string {
  const lang = pickLanguage(acceptLanguage);
  const other: Language = lang === 'en' ? 'zh-TW' : 'en';
  return `<!doctype html>
<html lang="${TEXT[lang].lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>PartyChat</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #1f2937; }
  h1 { font-size: 1.4rem; }
  .small { color: #6b7280; font-size: .9rem; }
  summary { cursor: pointer; color: #4f46e5; margin-top: 2rem; }
  @media (prefers-color-scheme: dark) { body { background: #111827; color: #e5e7eb; } .small { color: #9ca3af; } a, summary { color: #93c5fd; } }
</style>
</head>
<body>
<main lang="${TEXT[lang].lang}">
  ${body(lang)}
</main>
<details lang="${TEXT[other].lang}">
  <summary>${TEXT[lang].other}</summary>
  ${body(other)}
</details>
</body>
</html>`;
}

/** The invite link's page for people without the extension. `extensionUrlSetting` is PARTYCHAT_EXTENSION_URL. */
export function landingPage(acceptLanguage: string, extensionUrlSetting?: string): string {
  const url = safeExtensionUrl(extensionUrlSetting);
  return page(acceptLanguage, (lang) => invite(lang, url));
}

/** The server root: what this server is and how to get the extension. */
export function rootPage(acceptLanguage: string, extensionUrlSetting?: string): string {
  const url = safeExtensionUrl(extensionUrlSetting);
  return page(acceptLanguage, (lang) => root(lang, url));
}

/** Test-only (PARTYCHAT_TEST_HOOKS=1): how often each `/join/…` path was requested, so end-to-end tests can show the extension never let a link reach the server. */
const joinPageHits = new Map<string, number>();

/**
 * Routes the server's plain HTTP requests (outside `/parties/…`): `/` and `/join/<room>/<link>` get
 * their page; anything else is left to PartyKit (404). `env` is the party's environment
 * (PARTYCHAT_EXTENSION_URL, PARTYCHAT_TEST_HOOKS).
 */
export function servePage(req: { url: string; method: string; headers: { get(name: string): string | null } }, env: Record<string, unknown>): Response | undefined {
  const url = new URL(req.url);
  const testHooks = env.PARTYCHAT_TEST_HOOKS === '1';
  if (testHooks && url.pathname === '/__test/join-page-hits') {
    return new Response(JSON.stringify(Object.fromEntries(joinPageHits)), { headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' } });
  }
  const isJoin = /^\/join\/[0-9a-f]{32}\/[0-9a-f]{32}\/?$/.test(url.pathname);
  if (testHooks && url.pathname.startsWith('/join/')) joinPageHits.set(url.pathname, (joinPageHits.get(url.pathname) ?? 0) + 1);
  if (url.pathname !== '/' && !isJoin) return undefined;
  if (req.method !== 'GET' && req.method !== 'HEAD') return new Response(null, { status: 405, headers: { ...PAGE_HEADERS, Allow: 'GET, HEAD' } });
  const setting = typeof env.PARTYCHAT_EXTENSION_URL === 'string' ? env.PARTYCHAT_EXTENSION_URL : undefined;
  const language = req.headers.get('Accept-Language') ?? '';
  return new Response(isJoin ? landingPage(language, setting) : rootPage(language, setting), { headers: PAGE_HEADERS });
}
