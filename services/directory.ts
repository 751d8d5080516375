/**
 * Our directory entry on the server: publishing our public key (signing in publishes it), hearing of
 * invitations, and looking up someone else's key by contact code (checked against the fingerprint).
 */
import { PARTY_DIRECTORY } from '@/shared/constants';
import { readPublicKey } from '@/shared/crypto';
import { directoryServerFrameSchema, type DirectoryAuthFrame, type DirectoryClientFrame, type DirectoryServerFrame } from '@/shared/protocol';
import { PartyConnection } from './connection';
import { UserFacingError } from './errors';
import { httpUrl, type PartyHost } from './host';
import type { RoomContext } from './room/context';
import { signChallenge } from './room/router';

export type DirectoryConnection = PartyConnection<DirectoryServerFrame, DirectoryClientFrame>;

/**
 * Connects to our directory entry. An invitation is only a pointer: `onInvite` joins the room's
 * connection, which trusts nothing until its chain verifies; the invitation is then acknowledged.
 */
export function connectDirectory(ctx: RoomContext, onInvite: (roomId: string) => Promise<void>): DirectoryConnection {
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
      const rooms = frame.type === 'welcome' ? frame.invites.map((i) => i.room) : frame.type === 'invite' ? [frame.invite.room] : [];
      for (const room of rooms) {
        await onInvite(room);
        conn.send({ type: 'invite-ack', room });
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
