import {
  CryptoError,
  decryptFor,
  encryptTo,
  formatContactCode,
  generateGek,
  generateIdentity,
  openKeyEnvelope,
  openWithGek,
  parseContactCode,
  readPublicKey,
  sealKeyEnvelope,
  sealWithGek,
  signDetached,
  unlockPrivateKey,
  verifyDetached,
  type PrivateKey,
  type PublicKey,
} from '@/shared/crypto';
import { fromBase64, fromUtf8, toBase64, utf8 } from '@/shared/encoding';

interface Person {
  fp: string;
  pub: PublicKey;
  priv: PrivateKey;
  armored: string;
  encrypted: string;
}

async function person(name: string): Promise<Person> {
  const id = await generateIdentity(name, `${name}-passphrase`);
  return { fp: id.fingerprint, pub: await readPublicKey(id.publicKey), priv: await unlockPrivateKey(id.encryptedPrivateKey, `${name}-passphrase`), armored: id.publicKey, encrypted: id.encryptedPrivateKey };
}

describe('identity keys', () => {
  let alice: Person;
  let bob: Person;
  beforeAll(async () => {
    [alice, bob] = await Promise.all([person('Alice'), person('Bob')]);
  });

  it('generates a curve25519 key protected with Argon2 and AEAD, named by its user ID', async () => {
    expect(alice.fp).toMatch(/^[0-9a-f]{40}$/);
    expect(alice.pub.getAlgorithmInfo().algorithm).toBe('ed25519');
    const { readPrivateKey, enums } = await import('openpgp');
    const locked = await readPrivateKey({ armoredKey: alice.encrypted });
    expect(locked.isDecrypted()).toBe(false);
    expect((locked.keyPacket as unknown as { s2k: { type: string } }).s2k.type).toBe('argon2');
    expect((locked.keyPacket as unknown as { s2kUsage: number }).s2kUsage).toBe(253);
    expect(enums.s2k.argon2).toBeDefined();
    expect(alice.encrypted).not.toContain(alice.priv.armor().slice(100, 160));
  });

  it('refuses the wrong passphrase with a typed error', async () => {
    await expect(unlockPrivateKey(alice.encrypted, 'not it')).rejects.toMatchObject({ code: 'wrong-passphrase' });
  });

  it('signs and verifies detached signatures, and rejects other signers and other data', async () => {
    const data = utf8('challenge-123');
    const sig = await signDetached(alice.priv, data);
    expect(await verifyDetached(alice.pub, data, sig)).toBe(true);
    expect(await verifyDetached(bob.pub, data, sig)).toBe(false);
    expect(await verifyDetached(alice.pub, utf8('challenge-124'), sig)).toBe(false);
    expect(await verifyDetached(alice.pub, data, 'AAAA')).toBe(false);
  });

  it('seals with the room key and opens only with the key and the right sender', async () => {
    const gek = generateGek();
    const ct = await sealWithGek(gek, utf8('hello room'), alice.priv);
    expect(fromUtf8(await openWithGek(gek, ct, alice.pub))).toBe('hello room');
    await expect(openWithGek(gek, ct, bob.pub)).rejects.toMatchObject({ code: 'bad-signature' });
    await expect(openWithGek(generateGek(), ct, alice.pub)).rejects.toBeInstanceOf(CryptoError);
    await expect(openWithGek(gek, 'bm90IHBncA==', alice.pub)).rejects.toMatchObject({ code: 'bad-ciphertext' });
    await expect(sealWithGek(new Uint8Array(16), utf8('x'), alice.priv)).rejects.toThrow(/32 bytes/);
    const tampered = fromBase64(ct);
    tampered[tampered.length - 5] = (tampered[tampered.length - 5] ?? 0) ^ 1;
    await expect(openWithGek(gek, toBase64(tampered), alice.pub)).rejects.toBeInstanceOf(CryptoError);
  });

  it('delivers a key envelope only to its recipient, signed by the sender', async () => {
    const gek = generateGek();
    const ct = await sealKeyEnvelope(gek, bob.pub, alice.priv);
    expect(toBase64(await openKeyEnvelope(ct, bob.priv, alice.pub))).toBe(toBase64(gek));
    await expect(openKeyEnvelope(ct, alice.priv, alice.pub)).rejects.toBeInstanceOf(CryptoError);
    await expect(openKeyEnvelope(ct, bob.priv, bob.pub)).rejects.toMatchObject({ code: 'bad-signature' });
  });

  it('encrypts to a key without signing (escrow hand-over)', async () => {
    const ct = await encryptTo(bob.pub, utf8('wrapped'));
    expect(fromUtf8(await decryptFor(bob.priv, ct))).toBe('wrapped');
    await expect(decryptFor(alice.priv, ct)).rejects.toMatchObject({ code: 'bad-ciphertext' });
  });

  it.each([
    ['grouped upper case', (fp: string) => formatContactCode(fp)],
    ['plain lower case', (fp: string) => fp],
    ['with dashes and newlines', (fp: string) => fp.match(/.{1,8}/g)?.join('-\n') ?? ''],
  ])('parses a contact code written %s', (_how, write) => {
    expect(parseContactCode(write(alice.fp))).toBe(alice.fp);
  });

  it.each(['', 'hello', 'g'.repeat(40), 'ab'.repeat(19)])('rejects %j as a contact code', (code) => {
    expect(parseContactCode(code)).toBeNull();
  });
});

describe('base64 (shared/encoding.ts)', () => {
  it('matches the standard encoding for every length around the chunk boundaries, and round-trips', () => {
    for (const length of [0, 1, 2, 3, 4095, 4096, 4097, 8192, 40_000]) {
      const bytes = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
      const text = toBase64(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64'));
      expect(Array.from(fromBase64(text))).toEqual(Array.from(bytes));
    }
  });

  it('throws on text that is not base64', () => {
    expect(() => fromBase64('not base64!')).toThrow();
  });
});
