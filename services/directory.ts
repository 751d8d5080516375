/**
 * Our directory entry on the server: publishing our public key (signing in publishes it), hearing of
 * invitations, telling someone we invited them (a signed notice in their inbox), and looking up someone
 * else's key by contact code (checked against the fingerprint).
 */
import { PARTY_DIRECTORY } from '@/shared/constants';
import { encryptTo, readPublicKey, signDetached } from '@/shared/crypto';
import { randomHex, utf8 } from '@/shared/encoding';
import {
  directoryServerFrameSchema,
  inviteSignedText,
  type DirectoryAuthFrame,
  type DirectoryClientFrame,
  type DirectoryServerFrame,
  type InviteFields,
  type InviteNotice,
  type InviteRequest,
} from '@/shared/protocol';
import { PartyConnection } from './connection';
import { UserFacingError } from './errors';
import { httpUrl, type PartyHost } from './host';
import type { RoomContext } from './room/context';
import { signChallenge } from './room/router';

export type DirectoryConnection = PartyConnection<DirectoryServerFrame, DirectoryClientFrame>;

/**
 * Connects to our directory entry. Each notice goes to `onInvite` (which checks it and joins, keeps it as a
 * request, or drops it), and is then acknowledged so the server forgets it.
 */
export function connectDirectory(ctx: RoomContext, onInvite: (notice: InviteNotice) => Promise<void>): DirectoryConnection {
  const me = ctx.me.identity;
  const conn: DirectoryConnection = new PartyConnection({
    target: { ...ctx.host(), party: PARTY_DIRECTORY, room: me.fingerprint },
    openSocket: ctx.openSocket,
    schema: directoryServerFrameSchema,
    authenticate: async ({ nonce }): Promise<DirectoryAuthFrame> => ({
      type: 'auth',
      fp: me.fingerprint,
      sig: await signChallenge(ctx, PARTY_DIRECTORY, me.fingerprint, nonce),
      publicKey: me.publicKey,
    }),
    onFrame: async (frame) => {
      const notices = frame.type === 'welcome' ? frame.invites : frame.type === 'invite' ? [frame.invite] : [];
      for (const notice of notices) {
        try {
          await onInvite(notice);
          conn.send({ type: 'invite-ack', room: notice.room });
        } catch (error) {
          console.warn('invitation kept on the server for later:', error);
        }
      }
      if (frame.type === 'error') console.warn('directory error:', frame.code, frame.message);
    },
  });
  return conn;
}

/** The armored public key published for a fingerprint; refused unless it is that fingerprint's key. */
export async function lookupKey(fetchFn: typeof fetch, host: PartyHost, fingerprint: string): Promise<string> {
  let res: Response;
  try {
    res = await fetchFn(httpUrl(host, `/parties/${PARTY_DIRECTORY}/${fingerprint}`));
  } catch {
    throw new UserFacingError('offline', 'could not reach the server to look up the contact');
  }
  if (res.status === 404) throw new UserFacingError('contact-not-found', 'no key is published for this contact code');
  if (!res.ok) throw new UserFacingError('server', `the server answered ${res.status}`);
  const body = (await res.json()) as { publicKey?: unknown };
  if (typeof body.publicKey !== 'string') throw new UserFacingError('server', 'the server sent no public key');
  let key;
  try {
    key = await readPublicKey(body.publicKey);
  } catch {
    throw new UserFacingError('contact-key-mismatch', 'the server sent an unreadable key');
  }
  if (key.getFingerprint() !== fingerprint) {
    throw new UserFacingError('contact-key-mismatch', 'the key the server sent does not match the contact code');
  }
  return body.publicKey;
}

/**
 * Tells `to` (fingerprint and armored key) that we added them to `room`: a notice signed with our key, naming
 * them, the room, the time and a fresh nonce, with the room's name encrypted to them, posted to their inbox.
 */
export async function sendInvitation(
  ctx: RoomContext,
  fetchFn: typeof fetch,
  to: { fingerprint: string; publicKey: string },
  room: { id: string; name: string },
): Promise<void> {
  // The room's name and ours, for the invitee only (the signed notice carries the note; the server cannot read it).
  const note = await encryptTo(await readPublicKey(to.publicKey), utf8(JSON.stringify({ name: room.name, by: ctx.me.identity.name })));
  const fields: InviteFields = { to: to.fingerprint, by: ctx.me.identity.fingerprint, room: room.id, ts: ctx.now(), nonce: randomHex(16), note };
  const body = JSON.stringify(fields);
  const request: InviteRequest = { type: 'invite', body, sig: await signDetached(ctx.me.privateKey, utf8(inviteSignedText(body))) };
  const res = await fetchFn(httpUrl(ctx.host(), `/parties/${PARTY_DIRECTORY}/${to.fingerprint}`), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
  });
  if (!res.ok) {
    const answer = (await res.json().catch(() => ({}))) as { error?: unknown };
    throw new UserFacingError('server', `the server did not deliver the invitation (${res.status}): ${String(answer.error ?? '')}`);
  }
}
