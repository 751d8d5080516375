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
  sealKeyEnvelopes,
  sealWithGek,
  signDetached,
  unlockPrivateKey,
  verifyDetached,
  type PrivateKey,
  type PublicKey,
} from '@/shared/crypto';
import { fromBase64, fromUtf8, sha256Hex, toBase64, utf8 } from '@/shared/encoding';
import { createAddRecord, createGenesis, createRecord, verifyChain } from '@/shared/membership';
import { parsePayload, roomKeyIsFor, roomKeyPayloadSchema, type RoomKeyPayload } from '@/shared/payloads';
import type { SignedRecord } from '@/shared/protocol';
import * as openpgp from 'openpgp';

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

/** A member key as the product makes them (curve25519, SEIPDv2/AEAD advertised), without the Argon2 wait. */
async function quickPerson(name: string, aead = true): Promise<Person> {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name }], format: 'armored', config: { aeadProtect: aead } });
  const priv = await openpgp.readPrivateKey({ armoredKey: privateKey });
  return { fp: priv.getFingerprint(), pub: await readPublicKey(publicKey), priv, armored: publicKey, encrypted: '' };
}

/** The packets of a base64 envelope, as tag/version pairs. */
async function packetsOf(ct: string): Promise<Array<{ tag: number; version: number }>> {
  const message = await openpgp.readMessage({ binaryMessage: fromBase64(ct) });
  return message.packets.map((p) => ({ tag: (p.constructor as unknown as { tag: number }).tag, version: (p as unknown as { version: number }).version }));
}

describe('key envelopes sealed once for several members (sealKeyEnvelopes)', () => {
  let signer: Person;
  let members: Person[];
  beforeAll(async () => {
    const people = await Promise.all(['Signer', 'Ann', 'Ben', 'Cy'].map((n) => quickPerson(n)));
    signer = people[0] as Person;
    members = people.slice(1);
  });
  const recipientsOf = (people: Person[]) => people.map((p) => ({ fingerprint: p.fp, key: p.pub }));

  it('gives each member a complete envelope that opens for that member only, signed by the sender', async () => {
    const payload = utf8('{"t":"room-key"}');
    const sealed = await sealKeyEnvelopes(payload, recipientsOf(members), signer.priv);
    expect([...sealed.keys()]).toEqual(members.map((m) => m.fp));
    for (const [i, member] of members.entries()) {
      const ct = sealed.get(member.fp) as string;
      expect(fromUtf8(await openKeyEnvelope(ct, member.priv, signer.pub))).toBe('{"t":"room-key"}');
      const other = members[(i + 1) % members.length] as Person;
      await expect(openKeyEnvelope(ct, other.priv, signer.pub)).rejects.toMatchObject({ code: 'bad-ciphertext' });
      await expect(openKeyEnvelope(ct, member.priv, other.pub)).rejects.toMatchObject({ code: 'bad-signature' });
      // Exactly one session key packet (v6, for this member's key) and the shared SEIPDv2 packet.
      expect(await packetsOf(ct)).toEqual([{ tag: 1, version: 6 }, { tag: 18, version: 2 }]);
    }
    // The shared encrypted packet is the same for all; the envelopes are as large as a per-member one.
    const single = await sealKeyEnvelope(payload, members[0]?.pub as PublicKey, signer.priv);
    expect(new Set([...sealed.values()].map((ct) => ct.length))).toEqual(new Set([single.length]));
  });

  it('rejects a tampered envelope, a session key packet moved to another member, and a mismatched recipient', async () => {
    const [ann, ben] = members as [Person, Person];
    const sealed = await sealKeyEnvelopes(utf8('key'), recipientsOf([ann, ben]), signer.priv);
    const ct = fromBase64(sealed.get(ann.fp) as string);
    // The session key packet (new-format header: tag byte, one length byte) ends in the ephemeral key and
    // the wrapped session key; the SEIPDv2 packet after it ends in its authentication tag.
    const pkeskEnd = 2 + (ct[1] as number);
    expect(ct[0]).toBe(0xc1);
    for (const at of [pkeskEnd - 30, pkeskEnd - 1, pkeskEnd + 8, ct.length - 5]) {
      const tampered = ct.slice();
      tampered[at] = (tampered[at] ?? 0) ^ 1;
      await expect(openKeyEnvelope(toBase64(tampered), ann.priv, signer.pub)).rejects.toBeInstanceOf(CryptoError);
    }
    await expect(openKeyEnvelope(sealed.get(ben.fp) as string, ann.priv, signer.pub)).rejects.toBeInstanceOf(CryptoError);
    await expect(sealKeyEnvelopes(utf8('key'), [{ fingerprint: ben.fp, key: ann.pub }], signer.priv)).rejects.toMatchObject({ code: 'bad-key' });
  });

  it('seals a repeated recipient once, and nothing for nobody', async () => {
    const [ann] = members as [Person];
    expect([...(await sealKeyEnvelopes(utf8('k'), recipientsOf([ann, ann]), signer.priv)).keys()]).toEqual([ann.fp]);
    expect((await sealKeyEnvelopes(utf8('k'), [], signer.priv)).size).toBe(0);
  });

  it('stops sealing to a member key once it has expired, though it was checked (and cached) while valid', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'Brief' }], keyExpirationTime: 3600, config: { aeadProtect: true } });
    const brief = await readPublicKey(publicKey);
    const recipients = [{ fingerprint: brief.getFingerprint(), key: brief }];
    expect((await sealKeyEnvelopes(utf8('k'), recipients, signer.priv)).size).toBe(1);
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 2 * 3600_000);
      await expect(sealKeyEnvelopes(utf8('k'), recipients, signer.priv)).rejects.toMatchObject({ code: 'bad-key' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps AEAD for keys that advertise it when another member key does not', async () => {
    const legacy = await quickPerson('Legacy', false);
    const [ann] = members as [Person];
    const sealed = await sealKeyEnvelopes(utf8('k'), recipientsOf([ann, legacy]), signer.priv);
    expect(await packetsOf(sealed.get(ann.fp) as string)).toEqual([{ tag: 1, version: 6 }, { tag: 18, version: 2 }]);
    expect((await packetsOf(sealed.get(legacy.fp) as string)).map((p) => p.version)).toEqual([3, 1]);
    expect(fromUtf8(await openKeyEnvelope(sealed.get(legacy.fp) as string, legacy.priv, signer.pub))).toBe('k');
  });
});

describe('who a room key payload is for (roomKeyIsFor)', () => {
  const room = '0123456789abcdef0123456789abcdef';
  let admin: Person;
  let bob: Person;
  let carol: Person;
  let chain: SignedRecord[];
  let heads: string[];
  const payload = (fields: Partial<RoomKeyPayload>): RoomKeyPayload =>
    ({ v: 1, t: 'room-key', room, epoch: 1, from: admin.fp, gek: toBase64(generateGek()), name: 'r', mode: 'ephemeral', ...fields }) as RoomKeyPayload;
  beforeAll(async () => {
    [admin, bob, carol] = await Promise.all([quickPerson('Admin'), quickPerson('Bob'), quickPerson('Carol')]);
    // genesis, add Bob, add Carol, remove Bob, add Bob again
    chain = [await createGenesis(room, 'ephemeral', admin.priv)];
    const next = async (make: (roster: Awaited<ReturnType<typeof verifyChain>>) => Promise<SignedRecord>) => {
      chain.push(await make(await verifyChain(room, chain)));
    };
    await next((r) => createAddRecord(r, { fingerprint: bob.fp, publicKey: bob.armored, role: 'member' }, admin.priv));
    await next((r) => createAddRecord(r, { fingerprint: carol.fp, publicKey: carol.armored, role: 'member' }, admin.priv));
    await next((r) => createRecord<'remove'>(r, { kind: 'remove', member: bob.fp }, admin.priv));
    await next((r) => createAddRecord(r, { fingerprint: bob.fp, publicKey: bob.armored, role: 'member' }, admin.priv));
    heads = await Promise.all(chain.map((r) => sha256Hex(r.body)));
  });

  it('accepts a single-recipient payload (the format before shared sealing) only for its `to`', async () => {
    const roster = await verifyChain(room, chain);
    const old = parsePayload(roomKeyPayloadSchema, JSON.stringify(payload({ to: bob.fp })));
    expect(old).not.toBeNull();
    expect(await roomKeyIsFor(old as RoomKeyPayload, bob.fp, chain, roster)).toBe(true);
    expect(await roomKeyIsFor(old as RoomKeyPayload, carol.fp, chain, roster)).toBe(false);
  });

  it('accepts a shared payload only for who was a member at its chain head and still is', async () => {
    const roster = await verifyChain(room, chain);
    const at = (i: number) => payload({ head: heads[i] });
    // At our own head: every current member.
    for (const fp of [admin.fp, bob.fp, carol.fp]) expect(await roomKeyIsFor(at(4), fp, chain, roster)).toBe(true);
    // After Carol was added: Carol and the admin; not Bob, whose present membership began later.
    expect(await roomKeyIsFor(at(2), carol.fp, chain, roster)).toBe(true);
    expect(await roomKeyIsFor(at(2), admin.fp, chain, roster)).toBe(true);
    expect(await roomKeyIsFor(at(2), bob.fp, chain, roster)).toBe(false);
    // Before Carol joined: not Carol.
    expect(await roomKeyIsFor(at(1), carol.fp, chain, roster)).toBe(false);
    expect(await roomKeyIsFor(at(0), admin.fp, chain, roster)).toBe(true);
    // A head not in our chain, or someone not in the room now.
    expect(await roomKeyIsFor(payload({ head: 'ab'.repeat(32) }), admin.fp, chain, roster)).toBe(false);
    const removed = await verifyChain(room, chain.slice(0, 4));
    expect(await roomKeyIsFor(at(2), bob.fp, chain.slice(0, 4), removed)).toBe(false);
  });

  it('requires exactly one of `to` and `head`', () => {
    const base = payload({});
    expect(parsePayload(roomKeyPayloadSchema, JSON.stringify(base))).toBeNull();
    expect(parsePayload(roomKeyPayloadSchema, JSON.stringify({ ...base, to: bob.fp, head: 'ab'.repeat(32) }))).toBeNull();
    expect(parsePayload(roomKeyPayloadSchema, JSON.stringify({ ...base, head: 'ab'.repeat(32) }))).not.toBeNull();
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
