/**
 * Carrying an identity to another browser: the identity (its private key still encrypted under the
 * passphrase), the rooms and their keys, packed into one OpenPGP message encrypted with the same
 * passphrase (Argon2). History is not in it: backup rooms refill from the server, ephemeral rooms
 * from members who are online.
 */
import * as openpgp from 'openpgp';
import { z } from 'zod';
import { fingerprintSchema, modeSchema, roomIdSchema, signedRecordSchema } from '@/shared/protocol';
import { UserFacingError } from './errors';
import type { RoomRecord, StoredIdentity } from './records';
import type { DeepReadonly } from './room/session';

export const identityBundleSchema = z.object({
  v: z.literal(1),
  kind: z.literal('partychat-identity'),
  identity: z.object({
    name: z.string().min(1).max(64),
    fingerprint: fingerprintSchema,
    publicKey: z.string().max(16 * 1024),
    encryptedPrivateKey: z.string().max(16 * 1024),
  }),
  host: z.string().max(300),
  rooms: z.array(
    z.object({
      id: roomIdSchema,
      name: z.string().max(200),
      mode: modeSchema,
      createdAt: z.number(),
      keys: z.record(z.string(), z.string()),
      chain: z.array(signedRecordSchema),
      linkSecrets: z.record(z.string(), z.string()),
    }),
  ),
});
export type IdentityBundle = z.infer<typeof identityBundleSchema>;

export async function sealBundle(bundle: IdentityBundle, passphrase: string): Promise<string> {
  const message = await openpgp.createMessage({ text: JSON.stringify(bundle) });
  return openpgp.encrypt({
    message,
    passwords: [passphrase],
    format: 'armored',
    config: { s2kType: openpgp.enums.s2k.argon2, aeadProtect: true },
  });
}

/** Opens an exported bundle; a wrong passphrase or a damaged file is a `bad-import` error. */
export async function openBundle(content: string, passphrase: string): Promise<IdentityBundle> {
  let text: string;
  try {
    const message = await openpgp.readMessage({ armoredMessage: content.trim() });
    const { data } = await openpgp.decrypt({ message, passwords: [passphrase], format: 'utf8' });
    text = data;
  } catch {
    throw new UserFacingError('bad-import', 'the file could not be opened: check the passphrase, and that it is a PartyChat export');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UserFacingError('bad-import', 'the file is not a PartyChat identity export');
  }
  const parsed = identityBundleSchema.safeParse(json);
  if (!parsed.success) throw new UserFacingError('bad-import', 'the file is not a PartyChat identity export');
  return parsed.data;
}

/** Most characters of an exported file's name taken from the display name. */
const EXPORT_NAME_CHARS = 40;

/** The bundle for an identity and the rooms we hold keys for (not those we are still joining). */
export function bundleOf(identity: StoredIdentity, host: string, rooms: Iterable<DeepReadonly<RoomRecord>>): IdentityBundle {
  return {
    v: 1,
    kind: 'partychat-identity',
    identity: { name: identity.name, fingerprint: identity.fingerprint, publicKey: identity.publicKey, encryptedPrivateKey: identity.encryptedPrivateKey },
    host,
    rooms: [...rooms]
      .filter((r) => !r.joining && Object.keys(r.keys).length > 0)
      .map((r) => ({ id: r.id, name: r.name, mode: r.mode, createdAt: r.createdAt, keys: { ...r.keys }, chain: [...r.chain], linkSecrets: { ...r.linkSecrets } })),
  };
}

/** A file name for an export: the display name, made safe. */
export function exportFileName(name: string): string {
  return `partychat-${name.replace(/[^\p{L}\p{N}_-]+/gu, '-').slice(0, EXPORT_NAME_CHARS) || 'identity'}.asc`;
}
