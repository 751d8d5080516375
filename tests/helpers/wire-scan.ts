/**
 * Looks for secrets in what crossed the wire: the frame text itself, every string inside it (JSON nested in JSON
 * strings included, as chain record bodies are), base64 decoded, and armored OpenPGP blocks de-armored (a key's
 * user ID sits in its binary packets, where a plain text search never sees it).
 */
import * as openpgp from 'openpgp';
import { fromBase64, utf8 } from '@/shared/encoding';

function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Every string in a JSON text, recursing into strings that are JSON themselves. */
function strings(text: string, depth = 0): string[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [text];
  }
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      out.push(v);
      if (depth < 4 && /^[[{]/.test(v)) out.push(...strings(v, depth + 1));
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(value);
  return out;
}

/** The bytes a string may stand for: itself, its base64 decoding, its de-armored OpenPGP data. */
async function bytesOf(value: string): Promise<Uint8Array[]> {
  const out = [utf8(value)];
  if (value.includes('-----BEGIN PGP')) {
    try {
      out.push((await openpgp.unarmor(value)).data as Uint8Array);
    } catch {
      // not a whole armored block
    }
  } else if (/^[A-Za-z0-9+/]{16,}={0,2}$/.test(value) && value.length % 4 === 0) {
    try {
      out.push(fromBase64(value));
    } catch {
      // not base64 after all
    }
  }
  return out;
}

/** Each place a secret shows in the recorded frames, as `"<secret>" in <start of frame>`; empty when none does. */
export async function leaksIn(frames: readonly string[], secrets: readonly string[]): Promise<string[]> {
  const needles = secrets.map((s) => ({ s, bytes: utf8(s) }));
  const found: string[] = [];
  for (const frame of frames) {
    for (const value of [frame, ...strings(frame)]) {
      for (const bytes of await bytesOf(value)) {
        for (const { s, bytes: needle } of needles) if (contains(bytes, needle)) found.push(`"${s}" in ${frame.slice(0, 100)}`);
      }
    }
  }
  return [...new Set(found)];
}
