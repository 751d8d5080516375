/**
 * Directory inboxes take only invitations their sender signed (issue 10, item 2): a notice POST must be
 * signed by the identity it names as sender, whose key is published in that sender's own directory entry; it
 * names the inbox, carries a fresh time and a nonce (no replay), and the inbox bounds what one sender, and
 * everyone together, may leave in it.
 */
import { inject } from 'vitest';
import { MAX_INBOX_CHARS, MAX_INVITES_PER_INBOX, MAX_INVITES_PER_SENDER, MAX_PENDING_INVITES, INVITE_FRESH_MS } from '@/shared/constants';
import { randomHex, toBase64 } from '@/shared/encoding';
import {
  freshIdentity,
  noticeFields,
  postNotice,
  publishedIdentity,
  signedNotice,
  signInDirectory,
  type Identity,
} from '../helpers/adversary/forged-invite';

const host = inject('partyHost');

/** The invitations an inbox holds, as its owner sees them on signing in. */
async function heldBy(owner: Identity): Promise<Array<Record<string, unknown>>> {
  const { socket, welcome } = await signInDirectory(host, owner);
  socket.close();
  return welcome.invites as Array<Record<string, unknown>>;
}

describe('directory inbox writes', () => {
  let owner: Identity;
  let sender: Identity;

  beforeEach(async () => {
    [owner, sender] = await Promise.all([publishedIdentity(host, 'Owner'), publishedIdentity(host, 'Sender')]);
  });

  it('accepts a notice signed by its published sender and hands it to the owner live', async () => {
    const { socket } = await signInDirectory(host, owner);
    const fields = noticeFields(owner.fp, sender.fp);
    const res = await postNotice(host, owner.fp, await signedNotice(sender.key, fields));
    expect(res.status).toBe(202);
    const frame = await socket.next('invite');
    expect(frame.invite).toMatchObject({ room: fields.room, by: sender.fp, body: JSON.stringify(fields) });
    socket.close();
  });

  it('refuses an unsigned notice (the shape any room used to post)', async () => {
    const res = await postNotice(host, owner.fp, { type: 'invite', room: randomHex(16), by: sender.fp });
    expect(res.status).toBe(400);
    expect(await heldBy(owner)).toEqual([]);
  });

  it('refuses a notice signed by anyone but the sender it names', async () => {
    const mallory = await publishedIdentity(host, 'Mallory');
    const forged = await signedNotice(mallory.key, noticeFields(owner.fp, sender.fp));
    const res = await postNotice(host, owner.fp, forged);
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/signature/);
    // Mallory's own signature over a notice naming Mallory is fine; tampering with the signed text is not.
    const own = await signedNotice(mallory.key, noticeFields(owner.fp, mallory.fp));
    expect((await postNotice(host, owner.fp, { ...own, body: own.body.replace(mallory.fp, sender.fp) })).status).toBe(403);
    expect(await heldBy(owner)).toEqual([]);
  });

  it('refuses a sender who published no key', async () => {
    const stranger = await freshIdentity('Unpublished');
    const res = await postNotice(host, owner.fp, await signedNotice(stranger.key, noticeFields(owner.fp, stranger.fp)));
    expect(res.status).toBe(403);
    expect(res.body.error).toMatch(/published/);
  });

  it('refuses a notice addressed to another inbox', async () => {
    const other = await publishedIdentity(host, 'Other');
    const res = await postNotice(host, owner.fp, await signedNotice(sender.key, noticeFields(other.fp, sender.fp)));
    expect(res.status).toBe(403);
    expect(await heldBy(owner)).toEqual([]);
  });

  it('refuses inbox ids that are not fingerprints, and fingerprints nobody published', async () => {
    for (const inbox of ['not-a-fingerprint', owner.fp.toUpperCase(), `${owner.fp}00`, 'a'.repeat(39)]) {
      const res = await postNotice(host, inbox, await signedNotice(sender.key, noticeFields(inbox, sender.fp)));
      expect(res.status, inbox).toBe(404);
    }
    const nobody = (await freshIdentity('Nobody')).fp;
    expect((await postNotice(host, nobody, await signedNotice(sender.key, noticeFields(nobody, sender.fp)))).status).toBe(404);
  });

  it('refuses a replayed POST, and a notice whose signed time is stale or ahead', async () => {
    const notice = await signedNotice(sender.key, noticeFields(owner.fp, sender.fp));
    expect((await postNotice(host, owner.fp, notice)).status).toBe(202);
    const replay = await postNotice(host, owner.fp, notice);
    expect(replay.status).toBe(409);
    const stale = await signedNotice(sender.key, noticeFields(owner.fp, sender.fp, { ts: Date.now() - INVITE_FRESH_MS - 60_000 }));
    expect((await postNotice(host, owner.fp, stale)).status).toBe(403);
    const ahead = await signedNotice(sender.key, noticeFields(owner.fp, sender.fp, { ts: Date.now() + 10 * 60_000 }));
    expect((await postNotice(host, owner.fp, ahead)).status).toBe(403);
    expect(await heldBy(owner)).toHaveLength(1);
  });

  it('limits the notices one sender leaves in an inbox, without touching other senders', async () => {
    for (let i = 0; i < MAX_INVITES_PER_SENDER; i++) {
      expect((await postNotice(host, owner.fp, await signedNotice(sender.key, noticeFields(owner.fp, sender.fp)))).status).toBe(202);
    }
    const over = await postNotice(host, owner.fp, await signedNotice(sender.key, noticeFields(owner.fp, sender.fp)));
    expect(over.status).toBe(429);
    expect(over.body.error).toMatch(/sender/);
    const other = await publishedIdentity(host, 'Other');
    expect((await postNotice(host, owner.fp, await signedNotice(other.key, noticeFields(owner.fp, other.fp)))).status).toBe(202);
  });

  it('limits the notices one inbox accepts from everyone, even while its owner takes each one', async () => {
    const { socket } = await signInDirectory(host, owner);
    const senders = await Promise.all(Array.from({ length: Math.ceil(MAX_INVITES_PER_INBOX / MAX_INVITES_PER_SENDER) + 1 }, (_, i) => publishedIdentity(host, `S${i}`)));
    let accepted = 0;
    let refused: { status: number; body: { error?: string } } | null = null;
    for (const s of senders) {
      for (let i = 0; i < MAX_INVITES_PER_SENDER && !refused; i++) {
        const fields = noticeFields(owner.fp, s.fp);
        const res = await postNotice(host, owner.fp, await signedNotice(s.key, fields));
        if (res.status === 202) {
          accepted++;
          socket.send({ type: 'invite-ack', room: fields.room });
        } else refused = res;
      }
    }
    socket.close();
    expect(accepted).toBe(MAX_INVITES_PER_INBOX);
    expect(refused?.status).toBe(429);
    expect(refused?.body.error).toMatch(/inbox/);
  });

  it('bounds what an inbox holds while its owner is away: by count and by size', async () => {
    const senders = await Promise.all(Array.from({ length: Math.ceil(MAX_PENDING_INVITES / MAX_INVITES_PER_SENDER) + 1 }, (_, i) => publishedIdentity(host, `P${i}`)));
    const statuses: number[] = [];
    for (const s of senders) {
      for (let i = 0; i < MAX_INVITES_PER_SENDER; i++) statuses.push((await postNotice(host, owner.fp, await signedNotice(s.key, noticeFields(owner.fp, s.fp)))).status);
    }
    expect(statuses.filter((s) => s === 202)).toHaveLength(MAX_PENDING_INVITES);
    expect(statuses.slice(MAX_PENDING_INVITES).every((s) => s === 429)).toBe(true);
    expect(await heldBy(owner)).toHaveLength(MAX_PENDING_INVITES);

    // Large notes fill the inbox by size before the count.
    const roomy = await publishedIdentity(host, 'Roomy');
    const note = toBase64(new Uint8Array(1500));
    const big: number[] = [];
    for (const s of senders.slice(0, 3)) {
      for (let i = 0; i < MAX_INVITES_PER_SENDER; i++) big.push((await postNotice(host, roomy.fp, await signedNotice(s.key, noticeFields(roomy.fp, s.fp, { note })))).status);
    }
    expect(big).toContain(429);
    const held = await heldBy(roomy);
    expect(held.length).toBeLessThan(MAX_PENDING_INVITES);
    expect(JSON.stringify(held).length).toBeLessThanOrEqual(MAX_INBOX_CHARS + 1024);
  });
});
