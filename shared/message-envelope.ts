/**
 * Message envelopes' ciphertexts: sealed in format v1 (shared/message-seal.ts, raw WebCrypto) with the sender's
 * OpenPGP identity key used as a WebCrypto Ed25519 key, and opened in either format: v1 when the version byte says
 * so, else the OpenPGP format of earlier versions (`sealWithGek`), so old stored and backed-up messages stay readable.
 * Members already verify each identity key through the membership chain: nothing new is trusted.
 */
import * as openpgp from 'openpgp';
import { CryptoError, openWithGek, sealWithGek, type PrivateKey, type PublicKey } from './crypto';
import { fromBase64, fromUtf8, toBase64, utf8 } from './encoding';
import { importEd25519Public, importEd25519Seed, isSealedV1, openMessageBytes, sealMessageBytes, type MessageBinding, type MessageHeader } from './message-seal';
import { messagePayloadSchema, parsePayload, type MessagePayload } from './payloads';

/** eddsaLegacy keys keep their point as 0x40 ‖ 32 bytes. */
const LEGACY_POINT_PREFIX = 0x40;

interface EdParams {
  seed?: Uint8Array;
  A?: Uint8Array;
  Q?: Uint8Array;
}

/** The raw Ed25519 public point of an OpenPGP key whose primary key is Ed25519 (v4 `ed25519` or `eddsaLegacy`), else null. */
function ed25519PointOf(key: PublicKey | PrivateKey): Uint8Array | null {
  const packet = key.keyPacket as unknown as { algorithm: number; publicParams: EdParams };
  const params = packet.publicParams;
  if (packet.algorithm === openpgp.enums.publicKey.ed25519 && params.A?.length === 32) return params.A;
  if (packet.algorithm === openpgp.enums.publicKey.eddsaLegacy && params.Q?.length === 33 && params.Q[0] === LEGACY_POINT_PREFIX) {
    return params.Q.subarray(1);
  }
  return null;
}

/** The 32-byte Ed25519 seed of an unlocked OpenPGP identity key, else null. */
function ed25519SeedOf(key: PrivateKey): Uint8Array | null {
  if (!ed25519PointOf(key) || !key.isDecrypted()) return null;
  const seed = (key.keyPacket as unknown as { privateParams?: EdParams }).privateParams?.seed;
  return seed?.length === 32 ? seed : null;
}

const KEY_CACHE_LIMIT = 4096;
const signingKeys = new Map<string, Promise<CryptoKey | null>>();
const verifyKeys = new Map<string, Promise<CryptoKey | null>>();

function cached(cache: Map<string, Promise<CryptoKey | null>>, fingerprint: string, make: () => Promise<CryptoKey | null>): Promise<CryptoKey | null> {
  let key = cache.get(fingerprint);
  if (!key) {
    if (cache.size >= KEY_CACHE_LIMIT) cache.clear();
    key = make();
    key.catch(() => cache.delete(fingerprint));
    cache.set(fingerprint, key);
  }
  return key;
}

/** The sender's WebCrypto signing key (cached per fingerprint), or null if their identity key is not Ed25519. */
export function signingKeyOf(key: PrivateKey): Promise<CryptoKey | null> {
  return cached(signingKeys, key.getFingerprint(), async () => {
    const seed = ed25519SeedOf(key);
    return seed ? importEd25519Seed(seed) : null;
  });
}

/** The WebCrypto verification key of a member's identity key (cached per fingerprint), or null if it is not Ed25519. */
export function verifyKeyOf(key: PublicKey | PrivateKey): Promise<CryptoKey | null> {
  return cached(verifyKeys, key.getFingerprint(), async () => {
    const point = ed25519PointOf(key);
    return point ? importEd25519Public(point) : null;
  });
}

/**
 * Seals a message payload (base64) signed by `signer`, in format v1. A signer whose identity key is not Ed25519
 * (none this extension makes) gets the OpenPGP format, which every version reads.
 */
export async function sealMessage(gek: Uint8Array, header: MessageHeader, payload: Uint8Array, signer: PrivateKey): Promise<string> {
  const signingKey = await signingKeyOf(signer);
  if (!signingKey) return sealWithGek(gek, payload, signer);
  return toBase64(await sealMessageBytes({ gek, header, payload, signingKey }));
}

/** An opened envelope: its payload, and for format v1 the signed device and counter (null: the OpenPGP format, where only the payload is signed). */
export interface OpenedEnvelope {
  payload: Uint8Array;
  signed: { dev: string; ctr: number } | null;
}

/**
 * Opens a message envelope's ciphertext from `sender`: format v1 when the version byte says so, else the OpenPGP
 * format (old stored and backed-up messages). Throws CryptoError. The caller still matches the payload against
 * the envelope (and, for v1, against the signed device and counter).
 */
export async function openMessageEnvelope(gek: Uint8Array, ct: string, binding: MessageBinding, sender: PublicKey): Promise<OpenedEnvelope> {
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(ct);
  } catch {
    throw new CryptoError('bad-ciphertext', 'ciphertext is not base64');
  }
  if (!isSealedV1(bytes)) return { payload: await openWithGek(gek, ct, sender), signed: null };
  const verifyKey = await verifyKeyOf(sender);
  if (!verifyKey) throw new CryptoError('bad-signature', 'the sender key cannot sign format v1 messages');
  const { dev, ctr, payload } = await openMessageBytes(gek, bytes, binding, verifyKey);
  return { payload, signed: { dev, ctr } };
}

/** Seals a message payload (shared/payloads.ts) as it goes on the wire: its own room, epoch, sender, device, counter and id are signed with it. */
export function sealPayload(gek: Uint8Array, payload: MessagePayload, signer: PrivateKey): Promise<string> {
  const { room, epoch, from, dev, ctr, id } = payload;
  return sealMessage(gek, { room, epoch, from, dev, ctr, id }, utf8(JSON.stringify(payload)), signer);
}

/**
 * Opens an envelope's ciphertext into a message payload: null if it opens but is malformed; throws CryptoError if it
 * does not open or (format v1) the payload's device or counter differ from the signed ones. The caller matches the
 * payload against the envelope (room, epoch, sender, id): in format v1 a mismatch has already failed to decrypt.
 */
export async function openPayload(gek: Uint8Array, ct: string, binding: MessageBinding, sender: PublicKey): Promise<MessagePayload | null> {
  const opened = await openMessageEnvelope(gek, ct, binding, sender);
  const payload = parsePayload(messagePayloadSchema, fromUtf8(opened.payload));
  if (!payload) return null;
  if (opened.signed && (payload.dev !== opened.signed.dev || payload.ctr !== opened.signed.ctr)) {
    throw new CryptoError('bad-signature', "the payload's device or counter differs from the signed ones");
  }
  return payload;
}
