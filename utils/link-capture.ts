/**
 * Invite links opened in a tab: the extension redirects `<party host>/join/<room>/<link>` to its own
 * page (`/join.html`) before the request is made, so the server's page for the link never loads (it
 * could read the `#secret`); the secret reaches only the extension's page.
 */

/** The extension's page that receives redirected invite links. */
export const JOIN_PAGE_PATH = '/join.html';

/** Hosts whose links are always captured: a party server on this machine (any port). */
const LOCAL_NAMES = ['localhost', '127.0.0.1'];

function hostName(host: string | undefined): string {
  return (host ?? '').replace(/^[a-z]+:\/\//i, '').replace(/[:/].*$/, '').toLowerCase();
}

/** The host names whose links are captured: the local ones and the host the extension was built for. */
export function captureHostNames(buildHost: string | undefined): string[] {
  const name = hostName(buildHost);
  return name && !LOCAL_NAMES.includes(name) ? [...LOCAL_NAMES, name] : [...LOCAL_NAMES];
}

/** Host permissions the redirect needs (declarativeNetRequest acts only on hosts the extension may access; ports are ignored by match patterns). */
export function captureHostPermissions(buildHost: string | undefined): string[] {
  return captureHostNames(buildHost).map((name) => (LOCAL_NAMES.includes(name) ? `http://${name}/*` : `*://${name}/*`));
}

/** The origin permission to ask for when a person switches to another server, so its links can be captured too. */
export function originPattern(host: string): string | null {
  const name = hostName(host);
  if (!name || LOCAL_NAMES.includes(name)) return null;
  return `*://${name}/*`;
}

/** True for paths an invite link has: `/join/<room>/<link>`. */
export function isJoinPath(pathname: string): boolean {
  return /^\/join\/[0-9a-f]{32}\/[0-9a-f]{32}\/?$/.test(pathname);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The part of `declarativeNetRequest.Rule` we use (the same in Chromium MV3 and Firefox MV2). */
export interface JoinRedirectRule {
  id: number;
  priority: number;
  action: { type: 'redirect'; redirect: { regexSubstitution: string } } | { type: 'block' };
  condition: { regexFilter: string; resourceTypes: ('main_frame' | 'sub_frame')[]; isUrlFilterCaseSensitive: boolean };
}

/**
 * Dynamic rules for `declarativeNetRequest`: a tab opening an invite link of a captured host goes to
 * `joinPageUrl?from=<the link's address>#<its fragment>` instead. Chromium matches the URL with its
 * fragment and does not re-attach it to a redirect target that has none, so the rule carries the
 * fragment over itself (`\2`); a browser that matches without the fragment leaves `\2` empty and
 * keeps the original fragment on the target. Every path under /join/ is redirected (the join page
 * refuses what is not a link), and a query is dropped. Links in frames are blocked: a page must not
 * turn an embedded link into a join, and the server's page must not load with the secret there either.
 */
export function joinRedirectRules(buildHost: string | undefined, joinPageUrl: string): JoinRedirectRule[] {
  const hosts = captureHostNames(buildHost).map(escapeRegex).join('|');
  // No counted repetitions: Chromium refuses regexes that compile to more than 2 KB.
  const regexFilter = `^(https?://(?:${hosts})(?::[0-9]+)?/join/[^?#]*)(?:\\?[^#]*)?(#.*)?$`;
  return [
    {
      id: 1,
      priority: 1,
      action: { type: 'redirect', redirect: { regexSubstitution: `${joinPageUrl}?from=\\1\\2` } },
      condition: { regexFilter, resourceTypes: ['main_frame'], isUrlFilterCaseSensitive: true },
    },
    { id: 2, priority: 1, action: { type: 'block' }, condition: { regexFilter, resourceTypes: ['sub_frame'], isUrlFilterCaseSensitive: true } },
  ];
}

/**
 * The invite link the join page was opened for: the `from` parameter (the link's address) with the
 * page's own fragment (the secret the browser carried over), or null if that is not an invite link.
 */
export function linkFromJoinPage(search: string, hash: string): string | null {
  const from = new URLSearchParams(search).get('from');
  if (!from || hash.length < 2) return null;
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !isJoinPath(url.pathname) || url.search || url.username || url.password) return null;
  url.hash = hash;
  return url.href;
}

export interface CaptureMessage {
  kind: 'partychat-capture';
  url: string;
}

export function isCaptureMessage(message: unknown): message is CaptureMessage {
  return typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === 'partychat-capture' && typeof (message as { url?: unknown }).url === 'string';
}
