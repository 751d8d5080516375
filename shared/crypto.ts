/**
 * OpenPGP helpers shared by the extension and the party server. Binary formats throughout
 * (base64 on the wire); parsed public keys are cached so repeated verifications do no repeated parsing.
 */
import * as openpgp from 'openpgp';
import { GEK_BYTES } from './constants';
import { CryptoError } from './crypto-error';
import { fromBase64, randomBytes, toBase64 } from './encoding';

export type PublicKey = openpgp.PublicKey;
export type PrivateKey = openpgp.PrivateKey;

export { CryptoError } from './crypto-error';

/** A fresh identity: armored public key and armored private key encrypted under the passphrase (Argon2 S2K + AEAD). */
export interface GeneratedIdentity {
  fingerprint: string;
  publicKey: string;
  encryptedPrivateKey: string;
}

/**
 * `userName` goes into the key's OpenPGP user ID, which everyone who sees the key reads, the server included. The
 * extension passes '' (an empty user ID: names travel in sealed profiles, services/room/profiles.ts); a name here
 * is for tests that stand in for identities made before that.
 */
export async function generateIdentity(userName: string, passphrase: string): Promise<GeneratedIdentity> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'curve25519',
    userIDs: [userName ? { name: userName } : {}],
    passphrase,
    format: 'armored',
    config: { aeadProtect: true, s2kType: openpgp.enums.s2k.argon2 },
  });
  const key = await readPublicKey(publicKey);
  return { fingerprint: key.getFingerprint(), publicKey, encryptedPrivateKey: privateKey };
}

/** Decrypts the stored private key with the passphrase; throws CryptoError('wrong-passphrase'). */
export async function unlockPrivateKey(encryptedPrivateKey: string, passphrase: string): Promise<PrivateKey> {
  const locked = await openpgp.readPrivateKey({ armoredKey: encryptedPrivateKey });
  try {
    return await openpgp.decryptKey({ privateKey: locked, passphrase });
  } catch {
    throw new CryptoError('wrong-passphrase', 'the passphrase does not unlock this identity');
  }
}

/** Reads an already decrypted private key (as kept in session storage). */
export async function readUnlockedPrivateKey(armored: string): Promise<PrivateKey> {
  const key = await openpgp.readPrivateKey({ armoredKey: armored });
  if (!key.isDecrypted()) throw new CryptoError('bad-key', 'private key is still encrypted');
  return key;
}

const publicKeyCache = new Map<string, Promise<PublicKey>>();
const PUBLIC_KEY_CACHE_LIMIT = 4096;

/** Parses an armored public key once; later calls with the same text reuse the parsed key. */
export function readPublicKey(armored: string): Promise<PublicKey> {
  let key = publicKeyCache.get(armored);
  if (!key) {
    if (publicKeyCache.size >= PUBLIC_KEY_CACHE_LIMIT) publicKeyCache.clear();
    key = openpgp.readKey({ armoredKey: armored }).then((k) => {
      if (k.isPrivate()) throw new CryptoError('bad-key', 'expected a public key, got a private key');
      return k;
    });
    key.catch(() => publicKeyCache.delete(armored));
    publicKeyCache.set(armored, key);
  }
  return key;
}

/** The display name: the first user ID without any `<email>` or `(comment)` part. */
export function displayNameOf(key: PublicKey | PrivateKey): string {
  const userID = key.users[0]?.userID?.userID ?? '';
  return userID.replace(/\s*<[^>]*>\s*$/, '').replace(/\s*\([^)]*\)\s*$/, '').trim();
}

export async function signDetached(signer: PrivateKey, data: Uint8Array): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  const signature = await openpgp.sign({ message, signingKeys: signer, detached: true, format: 'binary' });
  return toBase64(signature);
}

/** True only if `sig` is a valid signature over `data` by `signer`. Never throws on bad input. */
export async function verifyDetached(signer: PublicKey, data: Uint8Array, sig: string): Promise<boolean> {
  try {
    const message = await openpgp.createMessage({ binary: data });
    const signature = await openpgp.readSignature({ binarySignature: fromBase64(sig) });
    const result = await openpgp.verify({ message, signature, verificationKeys: signer, expectSigned: true });
    await result.signatures[0]?.verified;
    return result.signatures.length > 0;
  } catch {
    return false;
  }
}

export function generateGek(): Uint8Array {
  return randomBytes(GEK_BYTES);
}

function checkGek(gek: Uint8Array): void {
  if (gek.length !== GEK_BYTES) throw new CryptoError('bad-key', `room key must be ${GEK_BYTES} bytes, got ${gek.length}`);
}

/** Signs `payload` with the sender's key inside, then encrypts it with the room key (AES-256-GCM, SEIPDv2). */
export async function sealWithGek(gek: Uint8Array, payload: Uint8Array, signer: PrivateKey): Promise<string> {
  checkGek(gek);
  const message = await openpgp.createMessage({ binary: payload });
  const ct = await openpgp.encrypt({
    message,
    sessionKey: { data: gek, algorithm: 'aes256', aeadAlgorithm: 'gcm' },
    signingKeys: signer,
    format: 'binary',
  });
  return toBase64(ct);
}

/** Decrypts with the room key and returns the payload only if it carries a valid signature by `sender`. */
export async function openWithGek(gek: Uint8Array, ct: string, sender: PublicKey): Promise<Uint8Array> {
  checkGek(gek);
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ binaryMessage: fromBase64(ct) });
  } catch {
    throw new CryptoError('bad-ciphertext', 'message is not an OpenPGP message');
  }
  return decryptVerified(
    () => openpgp.decrypt({ message, sessionKeys: { data: gek, algorithm: 'aes256' }, verificationKeys: sender, expectSigned: true, format: 'binary' }),
  );
}

/** Encrypts `payload` (a room key and its context) to `recipient`, signed by `signer`. */
export async function sealKeyEnvelope(payload: Uint8Array, recipient: PublicKey, signer: PrivateKey): Promise<string> {
  const message = await openpgp.createMessage({ binary: payload });
  const ct = await openpgp.encrypt({ message, encryptionKeys: recipient, signingKeys: signer, format: 'binary' });
  return toBase64(ct);
}

export interface KeyEnvelopeRecipient {
  fingerprint: string;
  key: PublicKey;
}

/**
 * Seals one payload for several members at once: signed once, encrypted once under one fresh session key
 * (SEIPDv2/AEAD when the keys advertise it), with one public-key session key packet (PKESK) per member.
 * Each member's envelope is only its own PKESK followed by the shared encrypted packet: a complete
 * OpenPGP message that `openKeyEnvelope` opens, made of the same packets as a `sealKeyEnvelope` envelope,
 * and one no other member can open. The payload is the same for everyone, so it must not name one
 * recipient (see RoomKeyPayload). Recipients whose keys advertise different cipher suites are sealed
 * in separate groups, so nobody is moved to a weaker suite than their key asks for.
 * Returns each recipient's envelope (base64) by fingerprint.
 */
export async function sealKeyEnvelopes(payload: Uint8Array, recipients: KeyEnvelopeRecipient[], signer: PrivateKey): Promise<Map<string, string>> {
  const groups = new Map<string, KeyEnvelopeRecipient[]>();
  const seen = new Set<string>();
  for (const recipient of recipients) {
    if (recipient.key.getFingerprint() !== recipient.fingerprint) throw new CryptoError('bad-key', 'recipient key does not match its fingerprint');
    if (seen.has(recipient.fingerprint)) continue;
    seen.add(recipient.fingerprint);
    const suite = await cipherSuiteOf(recipient.key);
    const group = groups.get(suite);
    if (group) group.push(recipient);
    else groups.set(suite, [recipient]);
  }
  const out = new Map<string, string>();
  for (const group of groups.values()) {
    const [first] = group;
    if (!first) continue;
    // The keys of a group carry the same preferences, so the first one picks the suite for all of them.
    const sessionKey = await openpgp.generateSessionKey({ encryptionKeys: first.key });
    const message = await openpgp.createMessage({ binary: payload });
    const body = await openpgp.encrypt({ message, sessionKey, signingKeys: signer, format: 'binary' });
    const packets = await Promise.all(group.map(async ({ key, fingerprint }) => ({ fingerprint, pkesk: await sessionKeyPacketFor(key, sessionKey) })));
    packets.forEach(({ fingerprint, pkesk }) => {
      const head = new openpgp.PacketList<openpgp.AnyPacket>();
      head.push(pkesk);
      const packet = head.write();
      const envelope = new Uint8Array(packet.length + body.length);
      envelope.set(packet);
      envelope.set(body, packet.length);
      out.set(fingerprint, toBase64(envelope));
    });
  }
  return out;
}

type EncryptionKeyPacket = openpgp.PublicKeyPacket | openpgp.PublicSubkeyPacket;
/** The parts of openpgp's PKESK packet its typings leave out (openpgp is pinned; the unit tests open what this makes). */
interface SessionKeyPacketClass {
  fromObject(fields: {
    version: 3 | 6;
    encryptionKeyPacket: EncryptionKeyPacket;
    anonymousRecipient: boolean;
    sessionKey: Uint8Array;
    sessionKeyAlgorithm: number;
  }): { encrypt(key: EncryptionKeyPacket): Promise<void> };
}

/**
 * One member's PKESK for `sessionKey`, made the way `openpgp.encryptSessionKey` makes it, but with the member's
 * encryption key validated once per parsed key (binding signatures, revocation, expiry) instead of on every
 * call: openpgp's check walks the key's signatures and throws and catches an error per key each time.
 */
async function sessionKeyPacketFor(key: PublicKey, sessionKey: openpgp.SessionKey): Promise<openpgp.PublicKeyEncryptedSessionKeyPacket> {
  const encryptionKey = await encryptionKeyOf(key);
  const pkesk = (openpgp.PublicKeyEncryptedSessionKeyPacket as unknown as SessionKeyPacketClass).fromObject({
    version: sessionKey.aeadAlgorithm ? 6 : 3,
    encryptionKeyPacket: encryptionKey,
    anonymousRecipient: false,
    sessionKey: sessionKey.data,
    sessionKeyAlgorithm: openpgp.enums.symmetric[sessionKey.algorithm],
  });
  await pkesk.encrypt(encryptionKey);
  return pkesk as unknown as openpgp.PublicKeyEncryptedSessionKeyPacket;
}

/** A key's valid encryption (sub)key packet, checked by openpgp and then reused until the key or subkey expires. */
const encryptionKeyCache = new WeakMap<PublicKey, { packet: EncryptionKeyPacket; until: number }>();
async function encryptionKeyOf(key: PublicKey): Promise<EncryptionKeyPacket> {
  const cached = encryptionKeyCache.get(key);
  if (cached && Date.now() < cached.until) return cached.packet;
  let packet: EncryptionKeyPacket;
  let until: number;
  try {
    const subkey = await key.getEncryptionKey();
    packet = subkey.keyPacket as EncryptionKeyPacket;
    const expiries = await Promise.all([key.getExpirationTime(), subkey === key ? Infinity : (subkey as openpgp.Subkey).getExpirationTime()]);
    until = Math.min(...expiries.map((e) => (e === null ? 0 : e === Infinity ? Infinity : (e as Date).getTime())));
  } catch {
    throw new CryptoError('bad-key', 'the recipient key has no valid encryption key');
  }
  encryptionKeyCache.set(key, { packet, until });
  return packet;
}

/** The cipher suite a key asks for (AEAD feature, preferred suites, preferred ciphers), to group recipients by. */
const SEIPDV2_FEATURE = 0x08; // features subpacket bit: the key accepts SEIPDv2 (AEAD)
const suiteCache = new WeakMap<PublicKey, Promise<string>>();
function cipherSuiteOf(key: PublicKey): Promise<string> {
  let suite = suiteCache.get(key);
  if (!suite) {
    suite = (async () => {
      // v6 keys keep their preferences on a direct-key signature: such a key gets its own group.
      if (key.keyPacket.version !== 4) return `fp:${key.getFingerprint()}`;
      const { selfCertification } = await key.getPrimaryUser();
      const sig = selfCertification as typeof selfCertification & { preferredCipherSuites?: number[][] | null };
      return JSON.stringify([(sig.features?.[0] ?? 0) & SEIPDV2_FEATURE, sig.preferredCipherSuites ?? null, sig.preferredSymmetricAlgorithms]);
    })();
    suite.catch(() => suiteCache.delete(key));
    suiteCache.set(key, suite);
  }
  return suite;
}

/** Opens a key envelope with our private key; returns the payload only if `sender` signed it. */
export async function openKeyEnvelope(ct: string, me: PrivateKey, sender: PublicKey): Promise<Uint8Array> {
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ binaryMessage: fromBase64(ct) });
  } catch {
    throw new CryptoError('bad-ciphertext', 'key envelope is not an OpenPGP message');
  }
  return decryptVerified(
    () => openpgp.decrypt({ message, decryptionKeys: me, verificationKeys: sender, expectSigned: true, format: 'binary' }),
  );
}

async function decryptVerified(run: () => Promise<{ data: Uint8Array }>): Promise<Uint8Array> {
  try {
    const { data } = await run();
    return data;
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    if (/sign/i.test(text)) throw new CryptoError('bad-signature', 'the sender signature does not verify');
    throw new CryptoError('bad-ciphertext', 'the ciphertext cannot be decrypted with this key');
  }
}

/** Encrypts bytes to a recipient without signing (the server uses it to hand over an escrowed key). */
export async function encryptTo(recipient: PublicKey, data: Uint8Array): Promise<string> {
  const message = await openpgp.createMessage({ binary: data });
  return toBase64(await openpgp.encrypt({ message, encryptionKeys: recipient, format: 'binary' }));
}

/** Decrypts what `encryptTo` produced; the caller verifies whatever is inside. */
export async function decryptFor(me: PrivateKey, ct: string): Promise<Uint8Array> {
  try {
    const message = await openpgp.readMessage({ binaryMessage: fromBase64(ct) });
    const { data } = await openpgp.decrypt({ message, decryptionKeys: me, format: 'binary' });
    return data;
  } catch {
    throw new CryptoError('bad-ciphertext', 'the ciphertext cannot be decrypted with our key');
  }
}

/** A contact code is the identity fingerprint, grouped for reading aloud: `FC05 3EA2 …`. */
export function formatContactCode(fingerprint: string): string {
  return fingerprint.toUpperCase().match(/.{1,4}/g)?.join(' ') ?? '';
}

/**
 * The name shown for someone nobody has named (keys carry no names; a member's sealed profile, an invitation's or a
 * join request's sealed note tells it): the first two groups of their contact code.
 */
export function unnamed(fingerprint: string): string {
  return formatContactCode(fingerprint).split(' ').slice(0, 2).join(' ');
}

/** Turns a pasted contact code back into a fingerprint, or null if it is not one. */
export function parseContactCode(code: string): string | null {
  const fp = code.replace(/[\s:-]/g, '').toLowerCase();
  return /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(fp) ? fp : null;
}
