/**
 * The client checks every invitation notice itself (services/invitations.ts `checkNotice`): a server that lies
 * can drop notices but not make one up, redirect one, or pass off a notice from one sender as another's.
 */
import { checkNotice } from '@/services/invitations';
import { UserFacingError } from '@/services/errors';
import type { Unlocked } from '@/services/vault';
import { encryptTo, readPublicKey } from '@/shared/crypto';
import { randomHex, utf8 } from '@/shared/encoding';
import type { InviteNotice } from '@/shared/protocol';
import { noticeFields, signedNotice, type NoticeFields } from '../helpers/adversary/forged-invite';
import { person, type Person } from './support/room-fixture';

let me: Person;
let mallory: Person;
let eve: Person;
let unlocked: Unlocked;
const keys = new Map<string, string>();
const lookup = async (fp: string): Promise<string> => {
  const key = keys.get(fp);
  if (!key) throw new UserFacingError('contact-not-found', 'no key is published for this contact code');
  return key;
};

beforeAll(async () => {
  [me, mallory, eve] = await Promise.all([person('Me'), person('Mallory'), person('Eve')]);
  for (const p of [me, mallory, eve]) keys.set(p.fingerprint, p.publicKey);
  unlocked = {
    identity: { name: me.name, fingerprint: me.fingerprint, publicKey: me.publicKey, encryptedPrivateKey: '', vaultKey: '', createdAt: 0 },
    privateKey: me.privateKey,
    vaultKey: await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']),
  };
});

/** A notice as the directory hands it over, signed by `signer` over `fields`. */
async function notice(signer: Person, fields: NoticeFields, wrapper: Partial<InviteNotice> = {}): Promise<InviteNotice> {
  const { body, sig } = await signedNotice(signer.privateKey, fields);
  return { room: fields.room, by: fields.by, ts: Date.now(), body, sig, ...wrapper };
}

describe('checking an invitation notice', () => {
  it('takes a notice signed by its sender: their name from their key, the room name from the note sealed to us', async () => {
    const note = await encryptTo(await readPublicKey(me.publicKey), utf8(JSON.stringify({ name: 'Book club' })));
    const fields = noticeFields(me.fingerprint, mallory.fingerprint, { note });
    expect(await checkNotice(unlocked, await notice(mallory, fields), lookup)).toEqual({
      room: fields.room,
      by: mallory.fingerprint,
      name: 'Mallory',
      roomName: 'Book club',
      ts: fields.ts,
    });
  });

  it('drops a notice signed by anyone but the sender it names', async () => {
    expect(await checkNotice(unlocked, await notice(eve, noticeFields(me.fingerprint, mallory.fingerprint)), lookup)).toBeNull();
  });

  it('drops a notice for someone else, or one the server relabels with another room or sender', async () => {
    expect(await checkNotice(unlocked, await notice(mallory, noticeFields(eve.fingerprint, mallory.fingerprint)), lookup)).toBeNull();
    const fields = noticeFields(me.fingerprint, mallory.fingerprint);
    expect(await checkNotice(unlocked, await notice(mallory, fields, { room: randomHex(16) }), lookup)).toBeNull();
    expect(await checkNotice(unlocked, await notice(mallory, fields, { by: eve.fingerprint }), lookup)).toBeNull();
  });

  it('drops a notice from a sender with no published key, but keeps one it could not check for lack of a server', async () => {
    const stranger = await person('Stranger');
    expect(await checkNotice(unlocked, await notice(stranger, noticeFields(me.fingerprint, stranger.fingerprint)), lookup)).toBeNull();
    const offline = async (): Promise<string> => {
      throw new UserFacingError('offline', 'could not reach the server');
    };
    await expect(checkNotice(unlocked, await notice(mallory, noticeFields(me.fingerprint, mallory.fingerprint)), offline)).rejects.toMatchObject({ code: 'offline' });
  });
});
