/** Carrying this browser's identity and rooms to another browser, and adopting an identity exported elsewhere. */
import { unlockPrivateKey } from '@/shared/crypto';
import type { IdentityExport } from '@/utils/protocol-map';
import { UserFacingError } from './errors';
import { formatHost } from './host';
import { bundleOf, exportFileName, openBundle, sealBundle } from './identity-transfer';
import type { RoomRecord } from './records';
import type { RoomRegistry } from './room/registry';
import { emptyRoom } from './room/session';
import type { Settings } from './settings';
import type { Unlocked, Vault } from './vault';

/** Packs the identity, rooms and room keys, encrypted with the passphrase (which must unlock the identity). */
export async function exportIdentity(vault: Vault, rooms: RoomRegistry, settings: Settings, passphrase: string): Promise<IdentityExport> {
  const identity = await vault.identity();
  if (!identity) throw new UserFacingError('locked', 'no identity to export');
  try {
    await unlockPrivateKey(identity.encryptedPrivateKey, passphrase);
  } catch {
    throw new UserFacingError('wrong-passphrase', 'enter the passphrase of this identity to export it');
  }
  const bundle = bundleOf(identity, formatHost(settings.host), [...rooms.values()].map((s) => s.record));
  return { fileName: exportFileName(identity.name), content: await sealBundle(bundle, passphrase) };
}

/** Takes over an exported identity: its server (or `host`), its key, and its rooms with their keys and chains. */
export async function adoptIdentity(vault: Vault, rooms: RoomRegistry, settings: Settings, file: { content: string; passphrase: string; host?: string }, now: number): Promise<Unlocked> {
  if (await vault.identity()) throw new UserFacingError('invalid-input', 'an identity already exists in this browser');
  const bundle = await openBundle(file.content, file.passphrase);
  await settings.setHost(file.host ?? bundle.host);
  let unlocked: Unlocked;
  try {
    unlocked = await vault.adopt(bundle.identity, file.passphrase, now);
  } catch {
    throw new UserFacingError('bad-import', 'the passphrase does not unlock the identity in this file');
  }
  for (const room of bundle.rooms) {
    const record: RoomRecord = { ...emptyRoom(room.id, room.mode, room.createdAt), name: room.name, keys: room.keys, chain: room.chain, linkSecrets: room.linkSecrets };
    await rooms.persist(unlocked, record);
  }
  await rooms.saveIndex(bundle.rooms.map((r) => r.id));
  return unlocked;
}
