import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import type { LocalItems, SessionItems } from '@/services/records';
import { memoryStore } from '@/services/store';
import { Vault } from '@/services/vault';

describe('the vault keeps the private key encrypted at rest', () => {
  it('stores the private key only encrypted under the passphrase; the unlocked key lives in session storage only', async () => {
    const local = memoryStore<LocalItems>();
    const session = memoryStore<SessionItems>();
    const vault = new Vault(local, session);
    const unlocked = await vault.create('Ada', 'a long passphrase', 1);
    const stored = await local.get('identity');
    if (!stored) throw new Error('no identity stored');
    const key = await openpgp.readPrivateKey({ armoredKey: stored.encryptedPrivateKey });
    expect(key.isDecrypted()).toBe(false);
    expect(key.getFingerprint()).toBe(unlocked.identity.fingerprint);
    // Every private key block in persistent storage is that encrypted one.
    const blocks = JSON.stringify(local.dump()).match(/-----BEGIN PGP PRIVATE KEY BLOCK-----[^-]+-----END PGP PRIVATE KEY BLOCK-----/g) ?? [];
    expect(blocks.length).toBe(1);
    for (const block of blocks) expect((await openpgp.readPrivateKey({ armoredKey: JSON.parse(`"${block}"`) })).isDecrypted()).toBe(false);
    // The decrypted key is in session storage (memory; gone when the browser closes) and nowhere else.
    const sessionKey = await session.get('unlocked');
    expect((await openpgp.readPrivateKey({ armoredKey: sessionKey?.privateKey ?? '' })).isDecrypted()).toBe(true);
    await vault.lock();
    expect(await session.get('unlocked')).toBeUndefined();
    await expect(vault.unlock('not the passphrase')).rejects.toThrow(/passphrase/);
    expect((await vault.unlock('a long passphrase')).identity.fingerprint).toBe(unlocked.identity.fingerprint);
  });
});
