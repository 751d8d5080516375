/**
 * Message payloads sealed on raw WebCrypto (format v1): Ed25519 signature inside AES-256-GCM under a per-message
 * key derived (HKDF-SHA-256) from the room key, bound to room and epoch. The signing key is the sender's OpenPGP
 * identity key (Ed25519), the same key members verify through the chain: see message-envelope.ts, which takes the
 * keys out of OpenPGP identities and tells this format from the older OpenPGP one. No openpgp here: this module is
 * the construction alone, runtime-neutral (Node, Chromium, Firefox), and checked against committed test vectors.
 *
 * Byte layout (all integers big-endian; lp(s) = u16 byte length ‖ UTF-8 bytes of s):
 *
 *   wire    = header ‖ AES-256-GCM(K, nonce, inner, aad) (ciphertext ‖ 16-byte tag)
 *   header  = 0x01 (version) ‖ salt[16] ‖ nonce[12]                                    (29 bytes)
 *   K       = HKDF-SHA-256(ikm = room key, salt = salt, info = "partychat/message-key/v1" ‖ 0x00 ‖ lp(room) ‖ u32(epoch))
 *   aad     = header ‖ lp(room) ‖ u32(epoch) ‖ lp(from) ‖ lp(id)
 *   inner   = sig[64] ‖ lp(dev) ‖ u64(ctr) ‖ payload
 *   sig     = Ed25519(sender, "partychat/message-sig/v1" ‖ 0x00 ‖ lp(room) ‖ u32(epoch) ‖ lp(from) ‖ lp(dev) ‖ u64(ctr) ‖ lp(id) ‖ payload)
 *
 * Salt and nonce are fresh random bytes per message, so every message has its own key: a nonce cannot repeat
 * under one key even if a counter or message id were reused. See README "Message seal (format v1)".
 */
import { GEK_BYTES } from './constants';
import { CryptoError } from './crypto-error';
import { randomBytes, utf8 } from './encoding';

export const MESSAGE_SEAL_VERSION = 0x01;
export const MESSAGE_SALT_BYTES = 16;
export const MESSAGE_NONCE_BYTES = 12;
export const MESSAGE_HEADER_BYTES = 1 + MESSAGE_SALT_BYTES + MESSAGE_NONCE_BYTES;
const SIG_BYTES = 64;
const TAG_BYTES = 16;
/** The shortest well-formed v1 ciphertext: header, signature, empty device, counter, empty payload, tag. */
export const MESSAGE_MIN_BYTES = MESSAGE_HEADER_BYTES + SIG_BYTES + 2 + 8 + TAG_BYTES;
const KEY_INFO = 'partychat/message-key/v1';
const SIG_CONTEXT = 'partychat/message-sig/v1';
const ED25519_PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

/** What the receiver knows from the envelope before opening it: the room, and the envelope's epoch, sender and id. */
export interface MessageBinding {
  room: string;
  epoch: number;
  /** The sender's fingerprint. */
  from: string;
  /** The message id. */
  id: string;
}

/** Everything that is signed besides the payload. */
export interface MessageHeader extends MessageBinding {
  dev: string;
  ctr: number;
}

/** An opened v1 message: the signed device and counter (which the caller matches against the payload) and the payload. */
export interface OpenedMessage {
  dev: string;
  ctr: number;
  payload: Uint8Array;
}

// ---- byte building ----

class Writer {
  private parts: Uint8Array[] = [];
  private size = 0;
  bytes(b: Uint8Array): this {
    this.parts.push(b);
    this.size += b.length;
    return this;
  }
  text(s: string): this {
    return this.bytes(utf8(s));
  }
  lp(s: string): this {
    const b = utf8(s);
    if (b.length > 0xffff) throw new CryptoError('bad-ciphertext', 'field too long');
    return this.u16(b.length).bytes(b);
  }
  u16(n: number): this {
    return this.bytes(new Uint8Array([n >>> 8, n & 0xff]));
  }
  u32(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CryptoError('bad-ciphertext', 'epoch out of range');
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n);
    return this.bytes(b);
  }
  u64(n: number): this {
    if (!Number.isSafeInteger(n) || n < 0) throw new CryptoError('bad-ciphertext', 'counter out of range');
    const b = new Uint8Array(8);
    const view = new DataView(b.buffer);
    view.setUint32(0, Math.floor(n / 0x100000000));
    view.setUint32(4, n >>> 0);
    return this.bytes(b);
  }
  done(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function keyInfo(room: string, epoch: number): Uint8Array {
  return new Writer().text(KEY_INFO).bytes(new Uint8Array([0])).lp(room).u32(epoch).done();
}

function additionalData(header: Uint8Array, b: MessageBinding): Uint8Array {
  return new Writer().bytes(header).lp(b.room).u32(b.epoch).lp(b.from).lp(b.id).done();
}

function signedBytes(h: MessageHeader, payload: Uint8Array): Uint8Array {
  return new Writer().text(SIG_CONTEXT).bytes(new Uint8Array([0])).lp(h.room).u32(h.epoch).lp(h.from).lp(h.dev).u64(h.ctr).lp(h.id).bytes(payload).done();
}

const buf = (b: Uint8Array) => b as BufferSource;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** An exact ArrayBuffer copy of `b` (some typings, e.g. Cloudflare's for party/, take only ArrayBuffer for parameters). */
const ab = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/**
 * Room keys imported once as (non-extractable) HKDF keys: an import is one more trip to the browser's crypto thread
 * per message otherwise. Keyed by the room key's bytes, which the room records already hold in memory; bounded.
 */
const hkdfKeys = new Map<string, Promise<CryptoKey>>();
const HKDF_KEY_CACHE_LIMIT = 256;

function hkdfKeyOf(gek: Uint8Array): Promise<CryptoKey> {
  if (gek.length !== GEK_BYTES) throw new CryptoError('bad-key', `room key must be ${GEK_BYTES} bytes, got ${gek.length}`);
  const id = String.fromCharCode(...gek);
  let key = hkdfKeys.get(id);
  if (!key) {
    if (hkdfKeys.size >= HKDF_KEY_CACHE_LIMIT) hkdfKeys.clear();
    key = crypto.subtle.importKey('raw', buf(gek), 'HKDF', false, ['deriveKey']);
    key.catch(() => hkdfKeys.delete(id));
    hkdfKeys.set(id, key);
  }
  return key;
}

async function messageKey(gek: Uint8Array, salt: Uint8Array, room: string, epoch: number, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const base = await hkdfKeyOf(gek);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: ab(salt), info: ab(keyInfo(room, epoch)) },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    [usage],
  );
}

/** Imports a raw 32-byte Ed25519 seed as a WebCrypto signing key. */
export function importEd25519Seed(seed: Uint8Array): Promise<CryptoKey> {
  if (seed.length !== 32) throw new CryptoError('bad-key', 'an Ed25519 seed is 32 bytes');
  const pkcs8 = new Uint8Array([...ED25519_PKCS8_PREFIX, ...seed]);
  return crypto.subtle.importKey('pkcs8', buf(pkcs8), { name: 'Ed25519' }, false, ['sign']);
}

/** Imports a raw 32-byte Ed25519 public key for verification. */
export function importEd25519Public(point: Uint8Array): Promise<CryptoKey> {
  if (point.length !== 32) throw new CryptoError('bad-key', 'an Ed25519 public key is 32 bytes');
  return crypto.subtle.importKey('raw', buf(point), { name: 'Ed25519' }, false, ['verify']);
}

// ---- the construction ----

export interface SealInput {
  gek: Uint8Array;
  header: MessageHeader;
  payload: Uint8Array;
  signingKey: CryptoKey;
  /** Fresh random bytes unless given (test vectors only). */
  salt?: Uint8Array;
  nonce?: Uint8Array;
}

/** Seals one payload in format v1 with an already imported signing key. */
export async function sealMessageBytes(input: SealInput): Promise<Uint8Array> {
  const { gek, header: h, payload, signingKey } = input;
  const salt = input.salt ?? randomBytes(MESSAGE_SALT_BYTES);
  const nonce = input.nonce ?? randomBytes(MESSAGE_NONCE_BYTES);
  if (salt.length !== MESSAGE_SALT_BYTES || nonce.length !== MESSAGE_NONCE_BYTES) throw new CryptoError('bad-key', 'salt or nonce has the wrong length');
  const head = new Writer().bytes(new Uint8Array([MESSAGE_SEAL_VERSION])).bytes(salt).bytes(nonce).done();
  const [key, sig] = await Promise.all([
    messageKey(gek, salt, h.room, h.epoch, 'encrypt'),
    crypto.subtle.sign({ name: 'Ed25519' }, signingKey, buf(signedBytes(h, payload))),
  ]);
  const inner = new Writer().bytes(new Uint8Array(sig)).lp(h.dev).u64(h.ctr).bytes(payload).done();
  const body = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: ab(nonce), additionalData: ab(additionalData(head, h)), tagLength: 128 }, key, buf(inner));
  return new Writer().bytes(head).bytes(new Uint8Array(body)).done();
}

/** Opens a v1 message: decrypts (which checks room, epoch, sender and id through the key and the additional data), then verifies the signature. */
export async function openMessageBytes(gek: Uint8Array, bytes: Uint8Array, binding: MessageBinding, verifyKey: CryptoKey): Promise<OpenedMessage> {
  if (bytes.length < MESSAGE_MIN_BYTES || bytes[0] !== MESSAGE_SEAL_VERSION) throw new CryptoError('bad-ciphertext', 'not a v1 sealed message');
  const head = bytes.subarray(0, MESSAGE_HEADER_BYTES);
  const salt = head.subarray(1, 1 + MESSAGE_SALT_BYTES);
  const nonce = head.subarray(1 + MESSAGE_SALT_BYTES);
  const key = await messageKey(gek, salt, binding.room, binding.epoch, 'decrypt');
  let inner: Uint8Array;
  try {
    inner = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv: ab(nonce), additionalData: ab(additionalData(head, binding)), tagLength: 128 }, key, buf(bytes.subarray(MESSAGE_HEADER_BYTES))),
    );
  } catch {
    throw new CryptoError('bad-ciphertext', 'the ciphertext cannot be decrypted with this key for this room, epoch, sender and id');
  }
  const devLength = ((inner[SIG_BYTES] ?? 0) << 8) | (inner[SIG_BYTES + 1] ?? 0);
  const ctrAt = SIG_BYTES + 2 + devLength;
  if (inner.length < ctrAt + 8) throw new CryptoError('bad-ciphertext', 'sealed message is truncated');
  let dev: string;
  try {
    dev = strictUtf8.decode(inner.subarray(SIG_BYTES + 2, ctrAt));
  } catch {
    throw new CryptoError('bad-ciphertext', 'sealed message has a malformed device');
  }
  const view = new DataView(inner.buffer, inner.byteOffset + ctrAt, 8);
  const ctr = view.getUint32(0) * 0x100000000 + view.getUint32(4);
  if (!Number.isSafeInteger(ctr)) throw new CryptoError('bad-ciphertext', 'counter out of range');
  const payload = inner.subarray(ctrAt + 8);
  const signed = signedBytes({ ...binding, dev, ctr }, payload);
  const ok = await crypto.subtle.verify({ name: 'Ed25519' }, verifyKey, buf(inner.subarray(0, SIG_BYTES)), buf(signed));
  if (!ok) throw new CryptoError('bad-signature', 'the sender signature does not verify');
  return { dev, ctr, payload };
}

/** True if the ciphertext bytes are in format v1 (an OpenPGP message starts with a packet tag: bit 7 set). */
export function isSealedV1(bytes: Uint8Array): boolean {
  return bytes[0] === MESSAGE_SEAL_VERSION;
}

/** Deterministic sealing for test vectors only: salt, nonce and the Ed25519 seed are inputs (Ed25519 signatures are deterministic). */
export async function sealMessageVector(input: { gek: Uint8Array; header: MessageHeader; payload: Uint8Array; seed: Uint8Array; salt: Uint8Array; nonce: Uint8Array }): Promise<Uint8Array> {
  return sealMessageBytes({ ...input, signingKey: await importEd25519Seed(input.seed) });
}

