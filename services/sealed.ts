/** Encryption at rest: values sealed with AES-256-GCM under the vault key before they touch storage. */
import { fromBase64, fromUtf8, randomBytes, toBase64, utf8 } from '@/shared/encoding';

/** A sealed value as stored: base64 IV and ciphertext (never raw bytes in extension storage). */
export interface Sealed {
  iv: string;
  ct: string;
}

const IV_BYTES = 12;
export const VAULT_KEY_BYTES = 32;

export function importVaultKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== VAULT_KEY_BYTES) throw new Error(`vault key must be ${VAULT_KEY_BYTES} bytes`);
  return crypto.subtle.importKey('raw', raw as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

export async function seal(key: CryptoKey, value: unknown, context: string): Promise<Sealed> {
  const iv = randomBytes(IV_BYTES);
  const ct = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv: iv as BufferSource, additionalData: utf8(context) as BufferSource },
    key,
    utf8(JSON.stringify(value)) as BufferSource,
  );
  return { iv: toBase64(iv), ct: toBase64(new Uint8Array(ct)) };
}

/** Opens a sealed value; `context` (the storage key) must match the one it was sealed with, so values can't be swapped. */
export async function unseal<T>(key: CryptoKey, sealed: Sealed, context: string): Promise<T> {
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: fromBase64(sealed.iv) as BufferSource, additionalData: utf8(context) as BufferSource },
    key,
    fromBase64(sealed.ct) as BufferSource,
  );
  return JSON.parse(fromUtf8(new Uint8Array(plain))) as T;
}
