/**
 * The crypto benchmarks themselves, runtime-neutral: run in Node by bench/crypto.ts and, bundled, in a
 * Chromium page (the runtime the extension's background really uses). Only WebCrypto, openpgp and
 * the project's shared/ code; no Node APIs.
 */
import * as openpgp from 'openpgp';
import {
  openWithGek,
  readPublicKey,
  readUnlockedPrivateKey,
  sealKeyEnvelope,
  sealKeyEnvelopes,
  sealWithGek,
  type KeyEnvelopeRecipient,
  type PrivateKey,
  type PublicKey,
} from '../shared/crypto';
import { randomBytes, randomHex, toBase64, utf8 } from '../shared/encoding';
import { openMessageEnvelope, sealMessage } from '../shared/message-envelope';
import type { MessageHeader } from '../shared/message-seal';
import type { RoomKeyPayload, TextPayload } from '../shared/payloads';

export interface MessageCryptoInput {
  /** The sender's unlocked private key, armored (the product keeps it decrypted in memory). */
  senderPrivateKey: string;
  textBytes: number[];
  rounds: number;
  warmupRounds: number;
  /** Operations per timed batch (each op = seal + open, or encrypt + decrypt for the floor). */
  ops: { product: number; openpgp: number; floor: number; direct: number; naive: number };
}

export interface MessageCryptoSize {
  textBytes: number;
  payloadBytes: number;
  /** Base64 ciphertext length as sent in a `msg` frame. */
  ctChars: number;
  /** Base64 ciphertext length of the same payload in the OpenPGP format (before format v1). */
  openpgpCtChars: number;
  /**
   * Milliseconds per operation, one entry per round. The product: format v1 (shared/message-envelope.ts
   * `sealMessage` then `openMessageEnvelope`: base64, key caches, the version byte, the layout).
   */
  product: number[];
  sealOnly: number[];
  openOnly: number[];
  /** The OpenPGP format the product used before format v1 (`sealWithGek` then `openWithGek`), still opened. */
  openpgp: number[];
  openpgpSealOnly: number[];
  openpgpOpenOnly: number[];
  /** The same openpgp calls without our wrapper (no base64): what shared/crypto.ts adds. */
  direct: number[];
  /** openpgp's naive path: armored keys parsed every time, armored messages. */
  naive: number[];
  /** Raw WebCrypto AES-256-GCM encrypt + decrypt of the same payload bytes, key imported once. */
  floor: number[];
  /**
   * The same construction as ours done with raw WebCrypto (keys imported once): Ed25519 sign, HKDF →
   * AES-256-GCM encrypt of payload + signature; then HKDF, decrypt, Ed25519 verify. What a signed,
   * room-key-encrypted message costs at the least, whatever the library.
   */
  construction: number[];
}

function now(): number {
  return performance.now();
}

async function perOp(ops: number, run: () => Promise<unknown>): Promise<number> {
  const start = now();
  for (let i = 0; i < ops; i++) await run();
  return (now() - start) / ops;
}

const ROOM = 'a3f1c2d4e5b6a7980a1b2c3d4e5f6071';

function textOf(bytes: number): string {
  const words = 'the quick brown fox jumps over a lazy dog while we wait for the next train home '.repeat(Math.ceil(bytes / 60) + 1);
  return words.slice(0, bytes);
}

/** The product's text payload (shared/payloads.ts TextPayload) as the bytes sealed and signed, and its signed header. */
export function textPayload(from: string, textBytes: number, ctr = 1): { bytes: Uint8Array; header: MessageHeader } {
  const payload: TextPayload = { v: 1, t: 'text', room: ROOM, epoch: 0, from, dev: '0123456789abcdef', ctr, id: randomHex(16), ts: Date.now(), text: textOf(textBytes) };
  return { bytes: utf8(JSON.stringify(payload)), header: { room: ROOM, epoch: 0, from, dev: payload.dev, ctr, id: payload.id } };
}


export async function runMessageCrypto(input: MessageCryptoInput, log: (m: string) => void = () => undefined): Promise<MessageCryptoSize[]> {
  const signer = await readUnlockedPrivateKey(input.senderPrivateKey);
  const sender = await readPublicKey(signer.toPublic().armor());
  const senderArmored = signer.toPublic().armor();
  const gek = randomBytes(32);
  const aesKey = await crypto.subtle.importKey('raw', gek as BufferSource, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const hkdfKey = await crypto.subtle.importKey('raw', gek as BufferSource, 'HKDF', false, ['deriveKey']);
  const edPair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const info = utf8('partychat-floor') as BufferSource;
  const messageKey = (salt: Uint8Array, usage: KeyUsage) =>
    crypto.subtle.deriveKey({ name: 'HKDF', hash: 'SHA-256', salt: salt as BufferSource, info }, hkdfKey, { name: 'AES-GCM', length: 256 }, false, [usage]);
  const out: MessageCryptoSize[] = [];

  for (const textBytes of input.textBytes) {
    const { bytes: payload, header } = textPayload(signer.getFingerprint(), textBytes);
    const binding = { room: header.room, epoch: header.epoch, from: header.from, id: header.id };
    const oldSample = await sealWithGek(gek, payload, signer);
    const back = await openWithGek(gek, oldSample, sender);
    const sample = await sealMessage(gek, header, payload, signer);
    const opened = await openMessageEnvelope(gek, sample, binding, sender);
    if (back.length !== payload.length || opened.payload.length !== payload.length || !opened.signed) throw new Error('seal/open round trip changed the payload');
    const result: MessageCryptoSize = {
      textBytes,
      payloadBytes: payload.length,
      ctChars: sample.length,
      openpgpCtChars: oldSample.length,
      product: [],
      sealOnly: [],
      openOnly: [],
      openpgp: [],
      openpgpSealOnly: [],
      openpgpOpenOnly: [],
      direct: [],
      naive: [],
      floor: [],
      construction: [],
    };

    const cases: Array<[keyof Omit<MessageCryptoSize, 'textBytes' | 'payloadBytes' | 'ctChars' | 'openpgpCtChars'>, number, () => Promise<unknown>]> = [
      ['floor', input.ops.floor, async () => {
        const iv = randomBytes(12);
        const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource }, aesKey, payload as BufferSource);
        await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv as BufferSource }, aesKey, ct);
      }],
      ['construction', input.ops.product, async () => {
        const salt = randomBytes(32);
        const iv = randomBytes(12);
        const sig = new Uint8Array(await crypto.subtle.sign('Ed25519', edPair.privateKey, payload as BufferSource));
        const body = new Uint8Array(payload.length + sig.length);
        body.set(payload);
        body.set(sig, payload.length);
        const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv as BufferSource }, await messageKey(salt, 'encrypt'), body as BufferSource);
        const plain = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv as BufferSource }, await messageKey(salt, 'decrypt'), ct));
        const ok = await crypto.subtle.verify('Ed25519', edPair.publicKey, plain.subarray(payload.length) as BufferSource, plain.subarray(0, payload.length) as BufferSource);
        if (!ok) throw new Error('floor construction does not verify');
      }],
      ['product', input.ops.product, async () => openMessageEnvelope(gek, await sealMessage(gek, header, payload, signer), binding, sender)],
      ['sealOnly', input.ops.product, () => sealMessage(gek, header, payload, signer)],
      ['openOnly', input.ops.product, () => openMessageEnvelope(gek, sample, binding, sender)],
      ['openpgp', input.ops.openpgp, async () => openWithGek(gek, await sealWithGek(gek, payload, signer), sender)],
      ['openpgpSealOnly', input.ops.openpgp, () => sealWithGek(gek, payload, signer)],
      ['openpgpOpenOnly', input.ops.openpgp, () => openWithGek(gek, oldSample, sender)],
      ['direct', input.ops.direct, async () => {
        const message = await openpgp.createMessage({ binary: payload });
        const ct = await openpgp.encrypt({ message, sessionKey: { data: gek, algorithm: 'aes256', aeadAlgorithm: 'gcm' }, signingKeys: signer, format: 'binary' });
        const read = await openpgp.readMessage({ binaryMessage: ct });
        await openpgp.decrypt({ message: read, sessionKeys: { data: gek, algorithm: 'aes256' }, verificationKeys: sender, expectSigned: true, format: 'binary' });
      }],
      ['naive', input.ops.naive, async () => {
        const signingKey = await openpgp.readPrivateKey({ armoredKey: input.senderPrivateKey });
        const verificationKey = await openpgp.readKey({ armoredKey: senderArmored });
        const message = await openpgp.createMessage({ binary: payload });
        const armored = await openpgp.encrypt({ message, sessionKey: { data: gek, algorithm: 'aes256', aeadAlgorithm: 'gcm' }, signingKeys: signingKey });
        const read = await openpgp.readMessage({ armoredMessage: armored });
        await openpgp.decrypt({ message: read, sessionKeys: { data: gek, algorithm: 'aes256' }, verificationKeys: verificationKey, expectSigned: true, format: 'binary' });
      }],
    ];
    for (let round = 0; round < input.warmupRounds + input.rounds; round++) {
      // Rotate the order each round so slow drift (JIT, other load) does not favour one case.
      for (let k = 0; k < cases.length; k++) {
        const [name, ops, run] = cases[(k + round) % cases.length] as (typeof cases)[number];
        const ms = await perOp(ops, run);
        if (round >= input.warmupRounds) result[name].push(ms);
      }
    }
    log(`message crypto ${textBytes} B done`);
    out.push(result);
  }
  return out;
}

export interface KeyDistributionInput {
  signerPrivateKey: string;
  /** Armored public keys of the members (product identities: curve25519, SEIPDv2/GCM advertised). */
  recipients: string[];
  counts: number[];
  /** Rounds per member count. */
  rounds: Record<number, number>;
  /** Member count at which the alternative strategies are also timed. */
  alternativesAt: number;
  alternativeRounds: number;
}

export interface KeyDistributionCount {
  members: number;
  /** Milliseconds for all members, one entry per round: the product's path (`sealKeyEnvelopes`). */
  product: number[];
  /** The path before it: one `sealKeyEnvelope` (own signature, own encryption) per member. */
  before: number[];
  floor: number[];
}

export interface KeyDistributionOutput {
  counts: KeyDistributionCount[];
  /** At `alternativesAt` members: the product path's first run, before any member key was validated and cached. */
  firstRotation: number;
  /** At `alternativesAt` members: sign once and encrypt that signed message to each key. */
  signOnce: number[];
  /** At `alternativesAt` members: one message encrypted to all keys, not split (what `sealKeyEnvelopes` splits). */
  oneMessage: number[];
  /** Characters (base64) of one member's envelope, per-member path and product path, and of the unsplit one-message alternative. */
  envelopeChars: number;
  sharedEnvelopeChars: number;
  oneMessageChars: number;
  alternativesAt: number;
}

/** The per-member payload (`to`), as the path before `sealKeyEnvelopes` made it. */
function roomKeyPayload(from: string, to: string, gek: Uint8Array): Uint8Array {
  const payload: RoomKeyPayload = { v: 1, t: 'room-key', room: ROOM, epoch: 1, from, to, gek: toBase64(gek), name: 'Weekend climbing', mode: 'ephemeral' };
  return utf8(JSON.stringify(payload));
}

/** The shared payload a rotation seals once for all members (names the membership chain head). */
function sharedRoomKeyPayload(from: string, gek: Uint8Array): Uint8Array {
  const payload: RoomKeyPayload = { v: 1, t: 'room-key', room: ROOM, epoch: 1, from, head: randomHex(32), gek: toBase64(gek), name: 'Weekend climbing', mode: 'ephemeral' };
  return utf8(JSON.stringify(payload));
}

/**
 * The floor: the product path's cryptographic work done directly with WebCrypto. Once: an Ed25519
 * signature over the payload, AES-256-GCM over payload + signature under a fresh session key. Per member,
 * all at once as the product does: an ephemeral X25519 key, ECDH with the member's key, HKDF to an AES key
 * that wraps the session key (AES-KW), the ephemeral public key exported. Member and signer keys imported once.
 */
async function webCryptoEnvelopes(members: CryptoKey[], signer: CryptoKey, payload: Uint8Array): Promise<void> {
  const sessionKey = randomBytes(32);
  const sig = new Uint8Array(await crypto.subtle.sign('Ed25519', signer, payload as BufferSource));
  const body = new Uint8Array(payload.length + sig.length);
  body.set(payload);
  body.set(sig, payload.length);
  const aes = await crypto.subtle.importKey('raw', sessionKey as BufferSource, 'AES-GCM', true, ['encrypt']);
  await crypto.subtle.encrypt({ name: 'AES-GCM', iv: randomBytes(12) as BufferSource }, aes, body as BufferSource);
  await Promise.all(
    members.map(async (member) => {
      const eph = (await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair;
      const shared = await crypto.subtle.deriveBits({ name: 'X25519', public: member } as unknown as EcdhKeyDeriveParams, eph.privateKey, 256);
      const hkdf = await crypto.subtle.importKey('raw', shared, 'HKDF', false, ['deriveKey']);
      const kek = await crypto.subtle.deriveKey(
        { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: utf8('partychat-floor') as BufferSource },
        hkdf,
        { name: 'AES-KW', length: 128 },
        false,
        ['wrapKey'],
      );
      await crypto.subtle.wrapKey('raw', aes, kek, 'AES-KW');
      await crypto.subtle.exportKey('raw', eph.publicKey);
    }),
  );
}

export async function runKeyDistribution(input: KeyDistributionInput, log: (m: string) => void = () => undefined): Promise<KeyDistributionOutput> {
  const signer: PrivateKey = await readUnlockedPrivateKey(input.signerPrivateKey);
  const from = signer.getFingerprint();
  const gek = randomBytes(32);
  const max = Math.max(...input.counts);
  if (input.recipients.length < max) throw new Error(`need ${max} recipient keys, have ${input.recipients.length}`);
  // Parsed keys are cached by readPublicKey (as in the product); parse them all before timing.
  const keys: PublicKey[] = [];
  for (const armored of input.recipients.slice(0, max)) keys.push(await readPublicKey(armored));
  const payloads = keys.map((k) => roomKeyPayload(from, k.getFingerprint(), gek));
  const shared = sharedRoomKeyPayload(from, gek);
  const recipients: KeyEnvelopeRecipient[] = keys.map((key) => ({ fingerprint: key.getFingerprint(), key }));

  const floorSigner = (await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const floorMembers: CryptoKey[] = [];
  for (let i = 0; i < max; i++) {
    const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair;
    const raw = await crypto.subtle.exportKey('raw', pair.publicKey);
    floorMembers.push(await crypto.subtle.importKey('raw', raw, { name: 'X25519' }, false, []));
  }

  // What services/chat.ts does on a rotation once the member keys are parsed (cached): seal one payload for all.
  const product = async (n: number) => {
    const start = now();
    const sealed = await sealKeyEnvelopes(shared, recipients.slice(0, n), signer);
    if (sealed.size !== n) throw new Error('sealKeyEnvelopes did not seal for every member');
    return now() - start;
  };
  const before = async (n: number) => {
    const start = now();
    for (let i = 0; i < n; i++) await sealKeyEnvelope(payloads[i] as Uint8Array, keys[i] as PublicKey, signer);
    return now() - start;
  };
  const floor = async (n: number) => {
    const start = now();
    await webCryptoEnvelopes(floorMembers.slice(0, n), floorSigner.privateKey, shared);
    return now() - start;
  };

  // The first rotation after the background starts also validates each member key once (then cached).
  const firstRotation = await product(Math.min(input.alternativesAt, max));
  // Warm up every path once (every member key validated, as after the first rotation).
  await product(max);
  await before(Math.min(10, max));
  await floor(Math.min(10, max));

  const counts: KeyDistributionCount[] = [];
  for (const n of input.counts) {
    const entry: KeyDistributionCount = { members: n, product: [], before: [], floor: [] };
    const rounds = input.rounds[n] ?? 3;
    const cases: Array<[number[], (n: number) => Promise<number>]> = [[entry.floor, floor], [entry.product, product], [entry.before, before]];
    for (let round = 0; round < rounds; round++) {
      // Rotate the order each round so drift (JIT, GC, other load) does not favour one path.
      for (let k = 0; k < cases.length; k++) {
        const [times, run] = cases[(k + round) % cases.length] as (typeof cases)[number];
        times.push(await run(n));
      }
    }
    log(`key distribution ${n} members done`);
    counts.push(entry);
  }

  // Alternatives: sign once then encrypt to each; one message to all keys left unsplit.
  const n = input.alternativesAt;
  const signOnce: number[] = [];
  const oneMessage: number[] = [];
  let oneMessageChars = 0;
  for (let round = 0; round < input.alternativeRounds; round++) {
    let start = now();
    const signed = await openpgp.sign({ message: await openpgp.createMessage({ binary: shared }), signingKeys: signer, format: 'binary' });
    for (let i = 0; i < n; i++) {
      const message = await openpgp.createMessage({ binary: signed });
      await openpgp.encrypt({ message, encryptionKeys: keys[i] as PublicKey, format: 'binary' });
    }
    signOnce.push(now() - start);
    start = now();
    const all = await openpgp.encrypt({ message: await openpgp.createMessage({ binary: shared }), encryptionKeys: keys.slice(0, n), signingKeys: signer, format: 'binary' });
    oneMessage.push(now() - start);
    oneMessageChars = Math.ceil(all.length / 3) * 4;
  }
  const envelope = await sealKeyEnvelope(payloads[0] as Uint8Array, keys[0] as PublicKey, signer);
  const sharedEnvelope = [...(await sealKeyEnvelopes(shared, recipients.slice(0, n), signer)).values()][0] ?? '';
  return { counts, firstRotation, signOnce, oneMessage, envelopeChars: envelope.length, sharedEnvelopeChars: sharedEnvelope.length, oneMessageChars, alternativesAt: n };
}
