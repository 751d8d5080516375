/**
 * Invitations as requests (issue 10, item 2). A notice from the directory is checked here (its signature, by the
 * key published for its sender's fingerprint); then a contact's invitation is joined as before, and anyone else's
 * waits as a request the person accepts, declines or blocks. Nothing connects to a requested room before it is
 * accepted. A contact is someone who shares a room with us (a member in the verified chain of a room we hold), or
 * someone we accepted an invitation from or invited ourselves. The requests, the accepted and the blocked senders
 * are kept sealed under the vault key (`invitations`), so they survive restarts and show no one's contacts on disk.
 */
import { decryptFor, displayNameOf, formatContactCode, readPublicKey, unnamed, verifyDetached } from '@/shared/crypto';
import { MAX_NAME_CHARS } from '@/shared/constants';
import { fromUtf8, utf8 } from '@/shared/encoding';
import { inviteSignedText, parseInviteFields, type InviteNotice } from '@/shared/protocol';
import type { InvitationView } from '@/utils/protocol-map';
import { UserFacingError } from './errors';
import { unreadableReason, type Quarantine } from './quarantine';
import type { LocalItems } from './records';
import { seal, unseal } from './sealed';
import type { KeyValueStore } from './store';
import { invitationBookShape } from './stored-shapes';
import type { Unlocked } from './vault';

/** Requests kept; past it the oldest are dropped (a flood of senders cannot grow storage without bound). */
export const MAX_INVITATION_REQUESTS = 50;
/** Senders remembered as accepted or blocked, each; past it the oldest are forgotten. */
const MAX_REMEMBERED = 1000;

/** A request waiting for the person: the room, who invited (checked), their name and the room name they gave. */
export interface StoredInvitation {
  room: string;
  by: string;
  name: string;
  roomName: string | null;
  ts: number;
}

export interface InvitationBook {
  requests: StoredInvitation[];
  /** Senders whose invitations join by themselves: accepted before, or invited by us. */
  accepted: string[];
  /** Senders whose invitations are dropped unseen. */
  blocked: string[];
}

const KEY = 'invitations';

/**
 * Checks a notice as the directory handed it: the signed text must name us and the room the server says, and
 * its signature must verify with the key published for the sender's fingerprint (`lookup` checks that key
 * against the fingerprint). The note, if any, is opened with our key. Null when anything fails.
 */
export async function checkNotice(me: Unlocked, notice: InviteNotice, lookup: (fp: string) => Promise<string>): Promise<StoredInvitation | null> {
  const fields = parseInviteFields(notice.body);
  if (!fields || fields.to !== me.identity.fingerprint || fields.room !== notice.room || fields.by !== notice.by) return null;
  let armored: string;
  try {
    armored = await lookup(fields.by);
  } catch (error) {
    // Not reaching the server is no verdict: the notice stays in the inbox for the next connection.
    if (error instanceof UserFacingError && (error.code === 'offline' || error.code === 'server')) throw error;
    return null;
  }
  const key = await readPublicKey(armored).catch(() => null);
  if (!key || !(await verifyDetached(key, utf8(inviteSignedText(notice.body)), notice.sig))) return null;
  const note = await openNote(me, fields.note);
  // The inviter's name travels in the note, encrypted to us (keys carry no names; older ones carry it in the key).
  return { room: fields.room, by: fields.by, name: note.by || displayNameOf(key) || unnamed(fields.by), roomName: note.room, ts: fields.ts };
}

/** The note encrypted to us in a notice: the room's name and the inviter's (signed with the rest of the notice). */
async function openNote(me: Unlocked, note: string | undefined): Promise<{ room: string | null; by: string }> {
  if (!note) return { room: null, by: '' };
  try {
    const parsed = JSON.parse(fromUtf8(await decryptFor(me.privateKey, note))) as { name?: unknown; by?: unknown };
    return {
      room: typeof parsed.name === 'string' ? parsed.name.slice(0, 200) : null,
      by: typeof parsed.by === 'string' ? parsed.by.trim().slice(0, MAX_NAME_CHARS) : '',
    };
  } catch {
    return { room: null, by: '' };
  }
}

export class Invitations {
  private book: InvitationBook = { requests: [], accepted: [], blocked: [] };

  constructor(private readonly local: KeyValueStore<LocalItems>) {}

  /** Reads the book (at unlock). One that cannot be read is moved aside (`quarantine`) and the book starts empty. */
  async load(me: Unlocked, quarantine?: Quarantine): Promise<void> {
    const sealed = await this.local.get(KEY);
    this.book = { requests: [], accepted: [], blocked: [] };
    try {
      if (sealed) this.book = invitationBookShape.parse(await unseal<unknown>(me.vaultKey, sealed, KEY)) as InvitationBook;
    } catch (error) {
      if (await quarantine?.put({ from: KEY, room: null, count: 0, reason: unreadableReason(error) }, { stored: sealed })) await this.local.remove(KEY);
    }
  }

  /** Forgets what was loaded (lock). */
  clear(): void {
    this.book = { requests: [], accepted: [], blocked: [] };
  }

  views(): InvitationView[] {
    return this.book.requests.map((r) => ({ ...r, contactCode: formatContactCode(r.by) }));
  }

  isBlocked(fp: string): boolean {
    return this.book.blocked.includes(fp);
  }

  isAccepted(fp: string): boolean {
    return this.book.accepted.includes(fp);
  }

  request(room: string): StoredInvitation | undefined {
    return this.book.requests.find((r) => r.room === room);
  }

  /** Keeps a request (one per room: a newer one for the same room replaces it). */
  async add(me: Unlocked, invitation: StoredInvitation): Promise<void> {
    const requests = [...this.book.requests.filter((r) => r.room !== invitation.room), invitation];
    await this.save(me, { ...this.book, requests: requests.slice(-MAX_INVITATION_REQUESTS) });
  }

  /** Drops the request for a room (joined another way, or declined). */
  async drop(me: Unlocked, room: string): Promise<void> {
    if (this.request(room)) await this.save(me, { ...this.book, requests: this.book.requests.filter((r) => r.room !== room) });
  }

  /** Their invitations join by themselves from now on; the request for `room` is gone. */
  async accept(me: Unlocked, fp: string, room?: string): Promise<void> {
    const accepted = this.book.accepted.includes(fp) ? this.book.accepted : [...this.book.accepted, fp].slice(-MAX_REMEMBERED);
    await this.save(me, { ...this.book, accepted, requests: this.book.requests.filter((r) => r.room !== room) });
  }

  /** Their invitations are dropped from now on, the waiting ones too. */
  async block(me: Unlocked, fp: string): Promise<void> {
    await this.save(me, {
      requests: this.book.requests.filter((r) => r.by !== fp),
      accepted: this.book.accepted.filter((a) => a !== fp),
      blocked: [...this.book.blocked.filter((b) => b !== fp), fp].slice(-MAX_REMEMBERED),
    });
  }

  private async save(me: Unlocked, book: InvitationBook): Promise<void> {
    this.book = book;
    await this.local.set(KEY, await seal(me.vaultKey, book, KEY));
  }
}
