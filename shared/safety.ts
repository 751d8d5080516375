/**
 * Safety numbers: 60 digits two people compare (read aloud, or by scanning a QR code) to check that each holds
 * the other's real key. Derived from both fingerprints only, in a canonical order, so both sides compute the
 * same number. As Signal's: for each fingerprint, SHA-512 iterated SAFETY_ITERATIONS times over
 * (previous digest ‖ fingerprint bytes), starting from (version ‖ fingerprint bytes); its first 30 bytes as six
 * 40-bit big-endian numbers, each mod 100000, give 30 digits; the lower fingerprint's 30 digits come first.
 * An OpenPGP v4 fingerprint is the SHA-1 of the primary public key, so the number commits to both primary keys.
 */
import { toHex } from './encoding';

export const SAFETY_ITERATIONS = 5200;
/** Version of the derivation, hashed in first (a new derivation gives other numbers, never the same ones). */
const VERSION = [0, 0];
const DIGITS_PER_SIDE = 30;
const CHUNK_BYTES = 5;
const CHUNK_MODULUS = 100_000;

/** Both fingerprints as lowercase hex, lower first. */
function canonicalPair(a: string, b: string): [string, string] {
  const [low = '', high = ''] = [toHex(fingerprintBytes(a)), toHex(fingerprintBytes(b))].sort();
  return [low, high];
}

function fingerprintBytes(fingerprint: string): Uint8Array {
  const hex = fingerprint.replace(/\s+/g, '').toLowerCase();
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(hex)) throw new Error('a safety number needs two OpenPGP fingerprints');
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

async function sha512(...parts: Uint8Array[]): Promise<Uint8Array> {
  const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return new Uint8Array(await crypto.subtle.digest('SHA-512', joined as BufferSource));
}

async function halfNumber(fp: Uint8Array): Promise<string> {
  let hash = await sha512(new Uint8Array(VERSION), fp);
  for (let i = 0; i < SAFETY_ITERATIONS; i++) hash = await sha512(hash, fp);
  let digits = '';
  for (let at = 0; digits.length < DIGITS_PER_SIDE; at += CHUNK_BYTES) {
    let value = 0;
    for (const byte of hash.subarray(at, at + CHUNK_BYTES)) value = value * 256 + byte;
    digits += String(value % CHUNK_MODULUS).padStart(5, '0');
  }
  return digits;
}

/** The 60-digit safety number of two identities (fingerprints, any case or grouping); the same in either order. */
export async function safetyNumber(fingerprintA: string, fingerprintB: string): Promise<string> {
  const [low, high] = canonicalPair(fingerprintA, fingerprintB);
  if (low === high) throw new Error('a safety number is between two different identities');
  return (await halfNumber(fingerprintBytes(low))) + (await halfNumber(fingerprintBytes(high)));
}

/** 12 groups of 5 digits, as shown. */
export function formatSafetyNumber(digits: string): string {
  return (digits.match(/\d{1,5}/g) ?? []).join(' ');
}

/** What the QR code holds: the derivation's version, both fingerprints in canonical order, and the number. */
export function safetyQrText(fingerprintA: string, fingerprintB: string, digits: string): string {
  const [low, high] = canonicalPair(fingerprintA, fingerprintB);
  return `partychat-safety:1:${low}:${high}:${digits}`;
}
