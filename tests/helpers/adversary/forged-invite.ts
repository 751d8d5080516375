/**
 * Someone writing to another identity's directory inbox by hand (`POST /parties/directory/<fp>`): an invitation
 * notice signed by any key (the right one, a wrong one, none), with any time and nonce, and identities
 * published in one sign-in so they can sign as a sender the directory knows.
 */
import * as openpgp from 'openpgp';
import { AUTH_CONTEXT, PARTY_DIRECTORY } from '@/shared/constants';
import { signDetached, type PrivateKey } from '@/shared/crypto';
import { randomHex, utf8 } from '@/shared/encoding';
import { authChallengeText, inviteSignedText } from '@/shared/protocol';
import { rawSocket, type RawSocket } from '../raw-socket';

export interface Identity {
  fp: string;
  key: PrivateKey;
  armored: string;
}

/** A fresh identity (no passphrase, never stored). */
export async function freshIdentity(name = 'Stranger'): Promise<Identity> {
  const { privateKey } = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name }], format: 'object' });
  return { fp: privateKey.getFingerprint(), key: privateKey, armored: privateKey.toPublic().armor() };
}

/** Signs in to the identity's own directory entry (publishing its key); resolves the open socket and its welcome. */
export async function signInDirectory(host: string, who: Identity): Promise<{ socket: RawSocket; welcome: Record<string, unknown> }> {
  const socket = await rawSocket(host, PARTY_DIRECTORY, who.fp);
  const challenge = await socket.next('challenge');
  const sig = await signDetached(who.key, utf8(authChallengeText(AUTH_CONTEXT, PARTY_DIRECTORY, who.fp, String(challenge.nonce))));
  socket.send({ type: 'auth', fp: who.fp, sig, publicKey: who.armored });
  return { socket, welcome: await socket.next('welcome') };
}

/** A fresh identity whose key is published in its directory entry (the socket is closed again). */
export async function publishedIdentity(host: string, name = 'Sender'): Promise<Identity> {
  const who = await freshIdentity(name);
  (await signInDirectory(host, who)).socket.close();
  return who;
}

/** What an invitation notice says; every field may be set to anything. */
export interface NoticeFields {
  to: string;
  by: string;
  room: string;
  ts: number;
  nonce: string;
  note?: string;
}

/** A notice body with sensible defaults (now, a fresh nonce, a random room). */
export function noticeFields(to: string, by: string, extra: Partial<NoticeFields> = {}): NoticeFields {
  return { to, by, room: randomHex(16), ts: Date.now(), nonce: randomHex(16), ...extra };
}

/** The POST body: the notice as JSON text and a detached signature over it by `signer` (whoever that is). */
export async function signedNotice(signer: PrivateKey, fields: NoticeFields): Promise<{ type: 'invite'; body: string; sig: string }> {
  const body = JSON.stringify(fields);
  return { type: 'invite', body, sig: await signDetached(signer, utf8(inviteSignedText(body))) };
}

/** Posts anything to an inbox; resolves the status and the JSON answer. */
export async function postNotice(host: string, inbox: string, payload: unknown): Promise<{ status: number; body: { error?: string; ok?: boolean } }> {
  const res = await fetch(`http://${host}/parties/${PARTY_DIRECTORY}/${inbox}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as { error?: string; ok?: boolean } };
}
