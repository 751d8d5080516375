/**
 * A message's text as plain runs and web links, so the chat renders links as anchors and everything else as
 * text (Vue escapes it: markup in a message is shown, never interpreted). Only http(s) addresses and bare
 * `www.` names become links; `javascript:`, `data:` and every other scheme stay text.
 */
export type Segment = { text: string; href: null } | { text: string; href: string };

const URL_PATTERN = /\b(?:https?:\/\/|www\.)[^\s<>"]+/giu;
/** Punctuation that ends a sentence rather than the address it follows. */
const TRAILING = /[.,;:!?'"’”)\]}]+$/u;

export function linkify(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index;
    let raw = match[0];
    const trailing = TRAILING.exec(raw)?.[0] ?? '';
    raw = raw.slice(0, raw.length - trailing.length);
    // A closing parenthesis belongs to the address when it opened one, as in Wikipedia's `Foo_(bar)`.
    if (trailing.startsWith(')') && raw.includes('(')) raw += ')';
    const href = toHref(raw);
    if (!href) continue;
    if (start > last) out.push({ text: text.slice(last, start), href: null });
    out.push({ text: raw, href });
    last = start + raw.length;
  }
  if (last < text.length) out.push({ text: text.slice(last), href: null });
  return out;
}

function toHref(raw: string): string | null {
  try {
    const url = new URL(/^www\./iu.test(raw) ? `https://${raw}` : raw);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}
