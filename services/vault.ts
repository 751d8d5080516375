/**
 * The identity and the vault key. The private key is stored only encrypted under the passphrase;
 * the vault key (which seals rooms and history) is stored only encrypted to our own public key.
 * Unlocked, both live in memory and in session storage (gone when the browser closes).
 */
import {
  generateIdentity,
  openKeyEnvelope,
  readPublicKey,
  readUnlockedPrivateKey,
  sealKeyEnvelope,
  unlockPrivateKey,
  type PrivateKey,
} from '@/shared/crypto';
import { fromBase64, randomBytes, toBase64 } from '@/shared/encoding';
import type { LocalItems, SessionItems, StoredIdentity } from './records';
import { importVaultKey, VAULT_KEY_BYTES } from './sealed';
import type { KeyValueStore } from './store';

export interface Unlocked {
  identity: StoredIdentity;
  privateKey: PrivateKey;
  vaultKey: CryptoKey;
}

export class Vault {
  constructor(
    private readonly local: KeyValueStore<LocalItems>,
    private readonly session: KeyValueStore<SessionItems>,
  ) {}

  identity(): Promise<StoredIdentity | undefined> {
    return this.local.get('identity');
  }

  async create(name: string, passphrase: string, now: number): Promise<Unlocked> {
    // The key carries no name: the name stays here, and travels to rooms only sealed (services/room/profiles.ts).
    const generated = await generateIdentity('', passphrase);
    const privateKey = await unlockPrivateKey(generated.encryptedPrivateKey, passphrase);
    const rawVaultKey = randomBytes(VAULT_KEY_BYTES);
    const vaultKey = await sealKeyEnvelope(rawVaultKey, await readPublicKey(generated.publicKey), privateKey);
    const identity: StoredIdentity = {
      name,
      fingerprint: generated.fingerprint,
      publicKey: generated.publicKey,
      encryptedPrivateKey: generated.encryptedPrivateKey,
      vaultKey,
      createdAt: now,
    };
    await this.local.set('identity', identity);
    return this.remember(identity, privateKey, rawVaultKey);
  }

  /** Takes over an identity exported from another browser; the passphrase must unlock its private key. */
  async adopt(
    parts: Pick<StoredIdentity, 'name' | 'fingerprint' | 'publicKey' | 'encryptedPrivateKey'>,
    passphrase: string,
    now: number,
  ): Promise<Unlocked> {
    const privateKey = await unlockPrivateKey(parts.encryptedPrivateKey, passphrase);
    if (privateKey.getFingerprint() !== parts.fingerprint) throw new Error('the exported key does not match its fingerprint');
    const rawVaultKey = randomBytes(VAULT_KEY_BYTES);
    const vaultKey = await sealKeyEnvelope(rawVaultKey, await readPublicKey(parts.publicKey), privateKey);
    const identity: StoredIdentity = { ...parts, vaultKey, createdAt: now };
    await this.local.set('identity', identity);
    return this.remember(identity, privateKey, rawVaultKey);
  }

  /** Unlocks with the passphrase; throws CryptoError('wrong-passphrase'). */
  async unlock(passphrase: string): Promise<Unlocked> {
    const identity = await this.requireIdentity();
    const privateKey = await unlockPrivateKey(identity.encryptedPrivateKey, passphrase);
    const rawVaultKey = await openKeyEnvelope(identity.vaultKey, privateKey, await readPublicKey(identity.publicKey));
    return this.remember(identity, privateKey, rawVaultKey);
  }

  /** Picks up an unlocked session after the service worker restarted; null if the browser was restarted (locked). */
  async resume(): Promise<Unlocked | null> {
    const identity = await this.local.get('identity');
    const unlocked = await this.session.get('unlocked');
    if (!identity || !unlocked) return null;
    const privateKey = await readUnlockedPrivateKey(unlocked.privateKey);
    if (privateKey.getFingerprint() !== identity.fingerprint) return null;
    return { identity, privateKey, vaultKey: await importVaultKey(fromBase64(unlocked.vaultKey)) };
  }

  async lock(): Promise<void> {
    await this.session.remove('unlocked');
  }

  private async requireIdentity(): Promise<StoredIdentity> {
    const identity = await this.local.get('identity');
    if (!identity) throw new Error('no identity has been created');
    return identity;
  }

  private async remember(identity: StoredIdentity, privateKey: PrivateKey, rawVaultKey: Uint8Array): Promise<Unlocked> {
    await this.session.set('unlocked', { privateKey: privateKey.armor(), vaultKey: toBase64(rawVaultKey) });
    return { identity, privateKey, vaultKey: await importVaultKey(rawVaultKey) };
  }
}
