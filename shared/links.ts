/**
 * Invite links. A link is `http(s)://<party host>/join/<room>/<link id>#<secret + genesis pin>`; the
 * fragment (base64url of the 32-byte secret followed by the 32-byte SHA-256 of the room's genesis record
 * body) lives only in the URL, which browsers never send to a server. The pin names the room the admin made
 * the link in: a joiner refuses any chain that does not start at that genesis, so a server cannot answer
 * the link with a room of its own. Links made before the pin (a 32-byte fragment) parse with `genesis: null`
 * and are refused by the extension. From the secret both sides derive
 * (HKDF-SHA-256): an Ed25519 key whose public half goes into the admin-signed link record, so a
 * joiner proves it held the secret by signing its own fingerprint; an AES-256 key that wraps
 * the escrowed room key, which the server stores but cannot open; and an AES-256-GCM key that seals the
 * link's preview (room name, creator's name, approval), which anyone holding the link reads before
 * joining and the server can neither read nor forge. A previewer proves it holds the secret by signing
 * the server's challenge nonce with the link key, so the server learns nothing about who looks.
 */
import { z } from 'zod';
import { MAX_NAME_CHARS } from './constants';
import { fromBase64, fromUtf8, randomBytes, toBase64, toHex, utf8 } from './encoding';

export const LINK_SECRET_BYTES = 32;
export const LINK_ID_BYTES = 16;
export const WRAP_KEY_BYTES = 32;
/** Bytes of the genesis pin (SHA-256 of the genesis record body) after the secret in the fragment. */
export const GENESIS_PIN_BYTES = 32;
const ED25519_PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
const JOIN_PROOF_CONTEXT = 'partychat/join/v1';
const PREVIEW_PROOF_CONTEXT = 'partychat/preview/v1';
const PREVIEW_SEAL_CONTEXT = 'partychat/link-preview/v1';
const JOIN_NOTE_CONTEXT = 'partychat/join-note/v1';
const GCM_IV_BYTES = 12;

export interface LinkKeys {
  /** Signs join proofs. */
  signingKey: CryptoKey;
  /** Raw Ed25519 public key, base64: goes into the link record. */
  publicKey: string;
  /** Wraps the escrowed room key (used as an OpenPGP session key). */
  wrapKey: Uint8Array;
  /** Seals the link's preview (AES-256-GCM). */
  previewKey: Uint8Array;
}

/** What a link tells someone holding it before they join: sealed by its creator, read with the link secret. */
export interface LinkPreviewText {
  /** The room's name. */
  room: string;
  /** The display name of the member who created the link. */
  by: string;
  /** Whether an admin must approve a joiner. */
  approval: boolean;
}

const linkPreviewTextSchema = z.object({ room: z.string().max(MAX_NAME_CHARS * 4), by: z.string().max(MAX_NAME_CHARS * 4), approval: z.boolean() });

export interface ParsedLink {
  /** Party host (host[:port]) and whether it is reached over TLS. */
  host: string;
  secure: boolean;
  room: string;
  link: string;
  secret: Uint8Array;
  /** SHA-256 (hex) of the room's genesis record body; null for a link made before links pinned their room. */
  genesis: string | null;
}

export function newLinkSecret(): Uint8Array {
  return randomBytes(LINK_SECRET_BYTES);
}

async function hkdf(secret: Uint8Array, info: string, bytes: number): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey('raw', secret as BufferSource, 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new ArrayBuffer(32), info: utf8(info).buffer as ArrayBuffer },
    base,
    bytes * 8,
  );
  return new Uint8Array(bits);
}

export async function deriveLinkKeys(secret: Uint8Array): Promise<LinkKeys> {
  if (secret.length !== LINK_SECRET_BYTES) throw new Error(`link secret must be ${LINK_SECRET_BYTES} bytes`);
  const seed = await hkdf(secret, 'partychat link signing key', 32);
  const pkcs8 = new Uint8Array([...ED25519_PKCS8_PREFIX, ...seed]);
  const signingKey = await crypto.subtle.importKey('pkcs8', pkcs8 as BufferSource, { name: 'Ed25519' }, true, ['sign']);
  const jwk = (await crypto.subtle.exportKey('jwk', signingKey)) as JsonWebKey;
  const publicKey = toBase64(fromBase64Url(jwk.x ?? ''));
  return {
    signingKey,
    publicKey,
    wrapKey: await hkdf(secret, 'partychat link wrap key', WRAP_KEY_BYTES),
    previewKey: await hkdf(secret, 'partychat link preview key', WRAP_KEY_BYTES),
  };
}

function proofText(context: string, room: string, link: string, subject: string): Uint8Array {
  return utf8(`${context}\n${room}\n${link}\n${subject}`);
}

async function signProof(keys: LinkKeys, text: Uint8Array): Promise<string> {
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, keys.signingKey, text as BufferSource);
  return toBase64(new Uint8Array(sig));
}

/** Checks a proof against the link record's public key; never throws. */
async function verifyProof(publicKey: string, text: Uint8Array, proof: string): Promise<boolean> {
  try {
    const raw = fromBase64(publicKey);
    const sig = fromBase64(proof);
    if (raw.length !== 32 || sig.length !== 64) return false;
    const key = await crypto.subtle.importKey('raw', raw as BufferSource, { name: 'Ed25519' }, false, ['verify']);
    return await crypto.subtle.verify({ name: 'Ed25519' }, key, sig as BufferSource, text as BufferSource);
  } catch {
    return false;
  }
}

/** Proves the joiner (`member`, a fingerprint) held the link secret, bound to this room and link. */
export function signJoinProof(keys: LinkKeys, room: string, link: string, member: string): Promise<string> {
  return signProof(keys, proofText(JOIN_PROOF_CONTEXT, room, link, member));
}

/** Checks a join proof against the link record's public key; never throws. */
export function verifyJoinProof(publicKey: string, room: string, link: string, member: string, proof: string): Promise<boolean> {
  return verifyProof(publicKey, proofText(JOIN_PROOF_CONTEXT, room, link, member), proof);
}

/** Proves a previewer holds the link secret, bound to the server's challenge `nonce`: no identity goes with it. */
export function signPreviewProof(keys: LinkKeys, room: string, link: string, nonce: string): Promise<string> {
  return signProof(keys, proofText(PREVIEW_PROOF_CONTEXT, room, link, nonce));
}

/** Checks a preview proof against the link record's public key; never throws. */
export function verifyPreviewProof(publicKey: string, room: string, link: string, nonce: string, proof: string): Promise<boolean> {
  return verifyProof(publicKey, proofText(PREVIEW_PROOF_CONTEXT, room, link, nonce), proof);
}

async function previewCipher(secret: Uint8Array, usage: 'encrypt' | 'decrypt'): Promise<CryptoKey> {
  const { previewKey } = await deriveLinkKeys(secret);
  return crypto.subtle.importKey('raw', previewKey as BufferSource, 'AES-GCM', false, [usage]);
}

/** The bytes as an ArrayBuffer of their own (what every runtime's AES-GCM parameters take). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

/** Binds what is sealed under a link's secret to what it is (`context`), its room and link, and for a join note its joiner. */
function sealParams(iv: Uint8Array, bound: string): { name: string; iv: ArrayBuffer; additionalData: ArrayBuffer } {
  return { name: 'AES-GCM', iv: ownBuffer(iv), additionalData: ownBuffer(utf8(bound)) };
}

async function sealUnderLink(secret: Uint8Array, bound: string, value: unknown): Promise<string> {
  const iv = randomBytes(GCM_IV_BYTES);
  const ct = await crypto.subtle.encrypt(sealParams(iv, bound), await previewCipher(secret, 'encrypt'), ownBuffer(utf8(JSON.stringify(value))));
  return toBase64(new Uint8Array([...iv, ...new Uint8Array(ct)]));
}

async function openUnderLink<T>(secret: Uint8Array, bound: string, sealed: string, schema: z.ZodType<T>): Promise<T | null> {
  try {
    const bytes = fromBase64(sealed);
    if (bytes.length <= GCM_IV_BYTES) return null;
    const params = sealParams(bytes.slice(0, GCM_IV_BYTES), bound);
    const plain = await crypto.subtle.decrypt(params, await previewCipher(secret, 'decrypt'), ownBuffer(bytes.slice(GCM_IV_BYTES)));
    const parsed = schema.safeParse(JSON.parse(fromUtf8(new Uint8Array(plain))));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Seals a link's preview under its secret (AES-256-GCM, bound to the room and link): base64 of IV and ciphertext. */
export function sealLinkPreview(secret: Uint8Array, room: string, link: string, preview: LinkPreviewText): Promise<string> {
  return sealUnderLink(secret, `${PREVIEW_SEAL_CONTEXT}\n${room}\n${link}`, preview);
}

/** Opens a sealed preview; null if it was not sealed under this secret for this room and link (or was changed). Never throws. */
export function openLinkPreview(secret: Uint8Array, room: string, link: string, sealed: string): Promise<LinkPreviewText | null> {
  return openUnderLink(secret, `${PREVIEW_SEAL_CONTEXT}\n${room}\n${link}`, sealed, linkPreviewTextSchema);
}

const joinNoteSchema = z.object({ name: z.string().trim().min(1).max(MAX_NAME_CHARS) });

/**
 * A link joiner's name for the admins who hold the link (keys carry no names): sealed under the link's secret, bound
 * to the room, link and joiner, so the server cannot read it and no one can move it onto another joiner.
 */
export function sealJoinNote(secret: Uint8Array, room: string, link: string, member: string, name: string): Promise<string> {
  return sealUnderLink(secret, `${JOIN_NOTE_CONTEXT}\n${room}\n${link}\n${member}`, { name });
}

/** The joiner's name from a join note; null if it does not open for this room, link and joiner. Never throws. */
export async function openJoinNote(secret: Uint8Array, room: string, link: string, member: string, sealed: string): Promise<string | null> {
  return (await openUnderLink(secret, `${JOIN_NOTE_CONTEXT}\n${room}\n${link}\n${member}`, sealed, joinNoteSchema))?.name ?? null;
}

export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function fromBase64Url(text: string): Uint8Array {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  return fromBase64(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
}

function hexBytes(hex: string): Uint8Array | null {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) return null;
  return new Uint8Array(hex.length / 2).map((_, i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16));
}

/** `genesis`: SHA-256 (hex) of the room's genesis record body (the chain's first head). */
export function formatLink(host: string, secure: boolean, room: string, link: string, secret: Uint8Array, genesis: string): string {
  const pin = hexBytes(genesis);
  if (secret.length !== LINK_SECRET_BYTES || pin?.length !== GENESIS_PIN_BYTES) throw new Error('a link needs a 32-byte secret and the genesis hash');
  return `${secure ? 'https' : 'http'}://${host}/join/${room}/${link}#${toBase64Url(new Uint8Array([...secret, ...pin]))}`;
}

/** Parses a pasted or captured link; null if it is not one of ours (or the secret is missing). */
export function parseLink(text: string): ParsedLink | null {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  const [, room, link] = /^\/join\/([0-9a-f]{32})\/([0-9a-f]{32})\/?$/.exec(url.pathname) ?? [];
  if (!room || !link || !url.hash) return null;
  let fragment: Uint8Array;
  try {
    fragment = fromBase64Url(url.hash.slice(1));
  } catch {
    return null;
  }
  if (fragment.length !== LINK_SECRET_BYTES && fragment.length !== LINK_SECRET_BYTES + GENESIS_PIN_BYTES) return null;
  const secret = fragment.slice(0, LINK_SECRET_BYTES);
  const genesis = fragment.length > LINK_SECRET_BYTES ? toHex(fragment.slice(LINK_SECRET_BYTES)) : null;
  return { host: url.host, secure: url.protocol === 'https:', room, link, secret, genesis };
}

export function newLinkId(): string {
  return [...randomBytes(LINK_ID_BYTES)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
