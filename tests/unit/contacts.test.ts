import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { Contacts } from '@/services/contacts';
import { UserFacingError } from '@/services/errors';
import type { LocalItems } from '@/services/records';
import { importVaultKey } from '@/services/sealed';
import { memoryStore } from '@/services/store';

interface Person {
  fingerprint: string;
  name: string;
  publicKey: string;
  /** The same fingerprint (same primary key) with other packets: what a lying directory could hand out. */
  otherKey: string;
}

async function person(name: string): Promise<Person> {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name }], format: 'object' });
  const reformatted = await openpgp.reformatKey({ privateKey, userIDs: [{ name: `${name} (new)` }], format: 'armored' });
  return { fingerprint: publicKey.getFingerprint(), name, publicKey: publicKey.armor(), otherKey: reformatted.publicKey };
}

let alice: Person;
let bob: Person;
let fakeAlice: Person;
let me: { vaultKey: CryptoKey };

beforeAll(async () => {
  [alice, bob, fakeAlice] = await Promise.all([person('Alice'), person('Bob'), person('alice ')]);
  me = { vaultKey: await importVaultKey(new Uint8Array(32).fill(7)) };
});

function book(now = () => 1000) {
  const local = memoryStore<LocalItems>();
  return { local, contacts: new Contacts(local, now) };
}

describe('contacts: keys pinned on first use', () => {
  it('pins a member the first time, sealed under the vault key, and stays quiet while the key is the same', async () => {
    const { local, contacts } = book();
    expect(await contacts.see(me, [alice])).toEqual([]);
    expect(contacts.contact(alice.fingerprint)).toMatchObject({ fingerprint: alice.fingerprint, name: 'Alice', firstSeen: 1000, verified: false });
    expect(await contacts.see(me, [alice])).toEqual([]);
    expect(contacts.warning(alice.fingerprint)).toBeNull();
    const stored = local.dump().contacts as { iv: string; ct: string };
    expect(JSON.stringify(stored)).not.toContain(alice.fingerprint);
    const again = new Contacts(local, () => 2000);
    await again.load(me);
    expect(again.contact(alice.fingerprint)?.firstSeen).toBe(1000);
  });

  it('a changed key for a pinned contact raises the warning and drops the verified mark', async () => {
    const { local, contacts } = book();
    await contacts.see(me, [alice]);
    await contacts.setVerified(me, alice.fingerprint, true);
    expect(contacts.isVerified(alice.fingerprint)).toBe(true);
    expect(await contacts.see(me, [{ ...alice, publicKey: alice.otherKey }])).toEqual([alice.fingerprint]);
    expect(contacts.warning(alice.fingerprint)).toEqual({ kind: 'key-changed', of: null });
    expect(contacts.isVerified(alice.fingerprint)).toBe(false);
    // The pinned key is still the first one: seeing it again does not clear the warning, and it survives a restart.
    await contacts.see(me, [alice]);
    const again = new Contacts(local, () => 2000);
    await again.load(me);
    expect(again.warning(alice.fingerprint)?.kind).toBe('key-changed');
  });

  it('refuses a changed key for new invitations, until the person verifies the contact again', async () => {
    const { contacts } = book();
    await contacts.requireKey(me, alice.fingerprint, alice.publicKey);
    await expect(contacts.requireKey(me, alice.fingerprint, alice.otherKey)).rejects.toMatchObject({ code: 'contact-key-mismatch' });
    await expect(contacts.requireKey(me, alice.fingerprint, alice.otherKey)).rejects.toBeInstanceOf(UserFacingError);
    // Comparing safety numbers again and marking verified accepts the key seen last.
    await contacts.setVerified(me, alice.fingerprint, true);
    expect(contacts.warning(alice.fingerprint)).toBeNull();
    await contacts.requireKey(me, alice.fingerprint, alice.otherKey);
  });

  it('flags a newcomer presenting with a pinned contact’s name and another key, not the contact', async () => {
    const { contacts } = book();
    await contacts.see(me, [alice, bob]);
    await contacts.setVerified(me, alice.fingerprint, true);
    expect(await contacts.see(me, [alice, bob, fakeAlice])).toEqual([fakeAlice.fingerprint]);
    expect(contacts.warning(fakeAlice.fingerprint)).toEqual({ kind: 'lookalike', of: 'Alice' });
    expect(contacts.warning(alice.fingerprint)).toBeNull();
    expect(contacts.isVerified(alice.fingerprint)).toBe(true);
    expect(contacts.isVerified(fakeAlice.fingerprint)).toBe(false);
  });

  it('does not flag two people with one name first seen together', async () => {
    const { contacts } = book();
    await contacts.see(me, [alice, fakeAlice]);
    expect(contacts.warning(alice.fingerprint)).toBeNull();
    expect(contacts.warning(fakeAlice.fingerprint)).toBeNull();
  });

  it('marks and clears verification only for someone pinned', async () => {
    const { contacts } = book();
    await expect(contacts.setVerified(me, bob.fingerprint, true)).rejects.toMatchObject({ code: 'invalid-input' });
    await contacts.see(me, [bob]);
    await contacts.setVerified(me, bob.fingerprint, true);
    await contacts.setVerified(me, bob.fingerprint, false);
    expect(contacts.isVerified(bob.fingerprint)).toBe(false);
  });
});
