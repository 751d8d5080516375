const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Base64 runs on every hot path (each message's ciphertext, each sealed history page), so it uses the
 * platform's encoder where there is one (Chromium 140+, Firefox 133+, Node 22+) and otherwise builds the
 * binary string in 4 KiB `apply` chunks (spreading 32 K arguments per call is many times slower).
 * Standard alphabet with padding either way; bad input throws.
 */
type NativeBase64 = { toBase64?: () => string };
type NativeFromBase64 = { fromBase64?: (text: string) => Uint8Array };
const nativeToBase64 = typeof (Uint8Array.prototype as NativeBase64).toBase64 === 'function';
const nativeFromBase64 = typeof (Uint8Array as unknown as NativeFromBase64).fromBase64 === 'function';
const CHUNK = 0x1000;

export function toBase64(bytes: Uint8Array): string {
  if (nativeToBase64) return (bytes as unknown as { toBase64(): string }).toBase64();
  if (bytes.length <= CHUNK) return btoa(String.fromCharCode.apply(null, bytes as unknown as number[]));
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  if (nativeFromBase64) return (Uint8Array as unknown as { fromBase64(s: string): Uint8Array }).fromBase64(text);
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

export function randomHex(length: number): string {
  return toHex(randomBytes(length));
}

/** Compares two strings without an early exit, so timing does not reveal where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  const x = utf8(a);
  const y = utf8(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', utf8(text) as BufferSource);
  return toHex(new Uint8Array(digest));
}
