/** Where invite links can be captured: the party host's `/join/` pages. */

const LOCAL_PATTERNS = ['http://localhost/join/*', 'http://127.0.0.1/join/*'];

/** Match patterns for the content script that hands invite links to the extension (ports are ignored by match patterns). */
export function captureMatches(buildHost: string | undefined): string[] {
  const patterns = [...LOCAL_PATTERNS];
  const name = buildHost?.replace(/^[a-z]+:\/\//i, '').replace(/[:/].*$/, '').toLowerCase();
  if (name && name !== 'localhost' && name !== '127.0.0.1') patterns.push(`*://${name}/join/*`);
  return patterns;
}

/** The origin permission to ask for when a person switches to another server, so its links can be captured too. */
export function originPattern(host: string): string | null {
  const name = host.replace(/^[a-z]+:\/\//i, '').replace(/[:/].*$/, '').toLowerCase();
  if (!name || name === 'localhost' || name === '127.0.0.1') return null;
  return `*://${name}/*`;
}

/** True for paths an invite link has: `/join/<room>/<link>`. */
export function isJoinPath(pathname: string): boolean {
  return /^\/join\/[0-9a-f]{32}\/[0-9a-f]{32}\/?$/.test(pathname);
}

export interface CaptureMessage {
  kind: 'partychat-capture';
  url: string;
}

export function isCaptureMessage(message: unknown): message is CaptureMessage {
  return typeof message === 'object' && message !== null && (message as { kind?: unknown }).kind === 'partychat-capture' && typeof (message as { url?: unknown }).url === 'string';
}
