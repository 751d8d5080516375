/**
 * Message seal format v1 (shared/message-seal.ts, shared/message-envelope.ts): the committed test vectors, the
 * byte layout re-derived here from the README's description with raw WebCrypto, the identity keys taken out of
 * OpenPGP (v4 ed25519 and legacy EdDSA), the attacks a receiver must refuse, and old OpenPGP-format messages.
 */
import * as openpgp from 'openpgp';
import { generateGek, generateIdentity, readPublicKey, sealWithGek, unlockPrivateKey, type PrivateKey, type PublicKey } from '@/shared/crypto';
import { fromBase64, fromUtf8, toBase64, utf8 } from '@/shared/encoding';
import { openMessageEnvelope, openPayload, sealMessage, sealPayload, signingKeyOf, verifyKeyOf } from '@/shared/message-envelope';
import {
  importEd25519Public,
  MESSAGE_HEADER_BYTES,
  MESSAGE_MIN_BYTES,
  MESSAGE_SEAL_VERSION,
  openMessageBytes,
  sealMessageVector,
  type MessageBinding,
  type MessageHeader,
} from '@/shared/message-seal';
import type { TextPayload } from '@/shared/payloads';
import vectorFile from '../fixtures/message-seal-vectors.json';

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHexStr = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

describe('message seal v1: committed test vectors', () => {
  it.each(vectorFile.vectors)('reproduces and opens "$name"', async (v) => {
    const header = v.header as MessageHeader;
    const sealed = await sealMessageVector({ gek: hex(v.gek), header, payload: hex(v.payload), seed: hex(v.seed), salt: hex(v.salt), nonce: hex(v.nonce) });
    expect(toHexStr(sealed)).toBe(v.sealed);
    const opened = await openMessageBytes(hex(v.gek), hex(v.sealed), header, await importEd25519Public(hex(vectorFile.publicKey)));
    expect(toHexStr(opened.payload)).toBe(v.payload);
    expect({ dev: opened.dev, ctr: opened.ctr }).toEqual({ dev: header.dev, ctr: header.ctr });
  });

  it('matches the layout written in the README, re-derived with raw WebCrypto', async () => {
    const v = vectorFile.vectors[0];
    if (!v) throw new Error('no vector');
    const h = v.header;
    const bytes = hex(v.sealed);
    const lp = (s: string) => {
      const b = utf8(s);
      return [b.length >> 8, b.length & 0xff, ...b];
    };
    const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    const u64 = (n: number) => [...u32(Math.floor(n / 2 ** 32)), ...u32(n >>> 0)];
    expect(bytes[0]).toBe(0x01);
    expect(toHexStr(bytes.subarray(1, 17))).toBe(v.salt);
    expect(toHexStr(bytes.subarray(17, 29))).toBe(v.nonce);
    const info = new Uint8Array([...utf8('partychat/message-key/v1'), 0, ...lp(h.room), ...u32(h.epoch)]);
    const base = await crypto.subtle.importKey('raw', hex(v.gek) as BufferSource, 'HKDF', false, ['deriveBits']);
    const k = await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: hex(v.salt) as BufferSource, info: info as BufferSource }, base, 256);
    const aes = await crypto.subtle.importKey('raw', k, 'AES-GCM', false, ['decrypt']);
    const aad = new Uint8Array([...bytes.subarray(0, 29), ...lp(h.room), ...u32(h.epoch), ...lp(h.from), ...lp(h.id)]);
    const inner = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: hex(v.nonce) as BufferSource, additionalData: aad as BufferSource }, aes, bytes.subarray(29) as BufferSource));
    const devField = lp(h.dev);
    expect([...inner.subarray(64, 64 + devField.length)]).toEqual(devField);
    expect([...inner.subarray(64 + devField.length, 72 + devField.length)]).toEqual(u64(h.ctr));
    expect(toHexStr(inner.subarray(72 + devField.length))).toBe(v.payload);
    const signed = new Uint8Array([...utf8('partychat/message-sig/v1'), 0, ...lp(h.room), ...u32(h.epoch), ...lp(h.from), ...lp(h.dev), ...u64(h.ctr), ...lp(h.id), ...hex(v.payload)]);
    const pub = await crypto.subtle.importKey('raw', hex(vectorFile.publicKey) as BufferSource, { name: 'Ed25519' }, false, ['verify']);
    expect(await crypto.subtle.verify({ name: 'Ed25519' }, pub, inner.subarray(0, 64) as BufferSource, signed as BufferSource)).toBe(true);
  });
});

interface Person {
  fp: string;
  priv: PrivateKey;
  pub: PublicKey;
}

async function person(name: string): Promise<Person> {
  const id = await generateIdentity(name, `${name}-passphrase`);
  return { fp: id.fingerprint, pub: await readPublicKey(id.publicKey), priv: await unlockPrivateKey(id.encryptedPrivateKey, `${name}-passphrase`) };
}

/** An identity as older openpgp versions made it: a v4 key whose primary key is legacy EdDSA (0x40-prefixed point). */
async function legacyPerson(name: string): Promise<Person> {
  const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name }], format: 'object' });
  return { fp: privateKey.getFingerprint(), priv: privateKey, pub: await readPublicKey(privateKey.toPublic().armor()) };
}

const ROOM = 'a3f1c2d4e5b6a7980a1b2c3d4e5f6071';

function text(from: Person, fields: Partial<TextPayload> = {}): TextPayload {
  return { v: 1, t: 'text', room: ROOM, epoch: 2, from: from.fp, dev: '0123456789abcdef', ctr: 7, id: 'ab'.repeat(16), ts: 1_700_000_000_000, text: 'hello room', ...fields };
}

const bindingOf = (p: TextPayload): MessageBinding => ({ room: p.room, epoch: p.epoch, from: p.from, id: p.id });

describe('message seal v1 with OpenPGP identity keys', () => {
  let alice: Person;
  let bob: Person;
  let lena: Person;
  const gek = generateGek();
  beforeAll(async () => {
    [alice, bob, lena] = await Promise.all([person('Alice'), person('Bob'), legacyPerson('Lena')]);
  });

  it('signs with the identity key itself: the WebCrypto key from the seed matches the public key packet (v4 ed25519 and legacy EdDSA)', async () => {
    expect(alice.pub.keyPacket.algorithm).toBe(openpgp.enums.publicKey.ed25519);
    expect(lena.pub.keyPacket.algorithm).toBe(openpgp.enums.publicKey.eddsaLegacy);
    for (const p of [alice, lena]) {
      const signer = await signingKeyOf(p.priv);
      const verifier = await verifyKeyOf(p.pub);
      if (!signer || !verifier) throw new Error('no WebCrypto key');
      const sig = await crypto.subtle.sign({ name: 'Ed25519' }, signer, utf8('x') as BufferSource);
      expect(await crypto.subtle.verify({ name: 'Ed25519' }, verifier, sig, utf8('x') as BufferSource)).toBe(true);
      // Cached per fingerprint: the same CryptoKey every time.
      expect(await verifyKeyOf(p.pub)).toBe(verifier);
    }
  });

  it('seals a payload in format v1 and opens it; every message gets its own salt and nonce', async () => {
    for (const p of [alice, lena]) {
      const payload = text(p);
      const ct = await sealPayload(gek, payload, p.priv);
      expect(fromBase64(ct)[0]).toBe(MESSAGE_SEAL_VERSION);
      await expect(openPayload(gek, ct, bindingOf(payload), p.pub)).resolves.toEqual(payload);
      const again = await sealPayload(gek, payload, p.priv);
      expect(fromBase64(again).subarray(0, MESSAGE_HEADER_BYTES)).not.toEqual(fromBase64(ct).subarray(0, MESSAGE_HEADER_BYTES));
    }
  });

  it('still opens messages sealed in the OpenPGP format (old stored and backed-up messages)', async () => {
    const payload = text(alice, { text: 'from before format v1' });
    const old = await sealWithGek(gek, utf8(JSON.stringify(payload)), alice.priv);
    expect(fromBase64(old)[0]).toBeGreaterThanOrEqual(0x80);
    await expect(openPayload(gek, old, bindingOf(payload), alice.pub)).resolves.toEqual(payload);
    await expect(openMessageEnvelope(gek, old, bindingOf(payload), alice.pub)).resolves.toMatchObject({ signed: null });
    // Its forged-signer variant is still refused by the OpenPGP path.
    const forged = await sealWithGek(gek, utf8(JSON.stringify(payload)), bob.priv);
    await expect(openPayload(gek, forged, bindingOf(payload), alice.pub)).rejects.toMatchObject({ code: 'bad-signature' });
  });

  describe('refuses', () => {
    let payload: TextPayload;
    let ct: string;
    beforeAll(async () => {
      payload = text(alice);
      ct = await sealPayload(gek, payload, alice.priv);
    });

    it('any flipped byte: version, salt, nonce, ciphertext, tag', async () => {
      const bytes = fromBase64(ct);
      for (const at of [0, 1, 16, 17, 28, 29, 60, bytes.length - 17, bytes.length - 1]) {
        const tampered = bytes.slice();
        tampered[at] = (tampered[at] ?? 0) ^ 0x01;
        await expect(openPayload(gek, toBase64(tampered), bindingOf(payload), alice.pub)).rejects.toMatchObject({ code: 'bad-ciphertext' });
      }
    });

    it('a truncated ciphertext, at every length', async () => {
      const bytes = fromBase64(ct);
      for (let n = 0; n < bytes.length; n++) {
        await expect(openPayload(gek, toBase64(bytes.subarray(0, n)), bindingOf(payload), alice.pub)).rejects.toMatchObject({ code: 'bad-ciphertext' });
      }
      expect(MESSAGE_MIN_BYTES).toBe(119);
    });

    it.each([
      ['another room', { room: 'f'.repeat(32) }],
      ['another epoch', { epoch: 3 }],
      ['another sender', { from: 'b'.repeat(40) }],
      ['another message id', { id: 'cd'.repeat(16) }],
    ])('the same ciphertext under an envelope naming %s', async (_what, change) => {
      await expect(openPayload(gek, ct, { ...bindingOf(payload), ...change }, alice.pub)).rejects.toMatchObject({ code: 'bad-ciphertext' });
    });

    it('the wrong room key', async () => {
      await expect(openPayload(generateGek(), ct, bindingOf(payload), alice.pub)).rejects.toMatchObject({ code: 'bad-ciphertext' });
    });

    it('a message another member signed in the sender’s name', async () => {
      const forged = await sealPayload(gek, payload, bob.priv);
      await expect(openPayload(gek, forged, bindingOf(payload), alice.pub)).rejects.toMatchObject({ code: 'bad-signature' });
    });

    it('a signed device or counter that differs from the payload’s', async () => {
      const header: MessageHeader = { ...bindingOf(payload), dev: payload.dev, ctr: payload.ctr + 1 };
      const odd = await sealMessage(gek, header, utf8(JSON.stringify(payload)), alice.priv);
      await expect(openPayload(gek, odd, bindingOf(payload), alice.pub)).rejects.toMatchObject({ code: 'bad-signature' });
      // The construction itself reports what was signed.
      await expect(openMessageEnvelope(gek, odd, bindingOf(payload), alice.pub)).resolves.toMatchObject({ signed: { dev: payload.dev, ctr: payload.ctr + 1 } });
    });

    it('a payload that is not a message payload (opened, then malformed)', async () => {
      const header: MessageHeader = { ...bindingOf(payload), dev: payload.dev, ctr: payload.ctr };
      const junk = await sealMessage(gek, header, utf8('not json'), alice.priv);
      await expect(openPayload(gek, junk, bindingOf(payload), alice.pub)).resolves.toBeNull();
      expect(fromUtf8((await openMessageEnvelope(gek, junk, bindingOf(payload), alice.pub)).payload)).toBe('not json');
    });
  });
});
