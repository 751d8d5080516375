/**
 * One identity's inbox of invitation notices (issue 10, item 2): what may be written into it and how much.
 *
 * A notice is the sender's signed statement "I added <to> to <room> at <ts>, nonce <n>". The directory takes it
 * only if the signature verifies with the key the sender published in their own directory entry (fetched from
 * that entry, whose key never changes once published, and checked against the fingerprint), it names this inbox,
 * its time is fresh, and its nonce was not seen here: a captured POST can be replayed neither here (nonce) nor
 * elsewhere (`to`) nor later (time). The limits count only notices taken, so forged POSTs cannot use up a real
 * sender's budget; they hold per sender and per inbox within a window, and on what waits for the owner (count
 * and characters). Receipts (sender, nonce, time) are kept as long as a notice could still be fresh, in storage.
 */
import type * as Party from 'partykit/server';
import {
  INVITE_CLOCK_SKEW_MS,
  INVITE_FRESH_MS,
  INVITE_WINDOW_MS,
  MAX_INBOX_CHARS,
  MAX_INVITES_PER_INBOX,
  MAX_INVITES_PER_SENDER,
  MAX_PENDING_INVITES,
} from '../shared/constants';
import type { InviteFields, InviteNotice } from '../shared/protocol';

/** A notice taken: who sent it, its nonce, and when it arrived. */
interface Receipt {
  by: string;
  nonce: string;
  at: number;
}

/** Why a notice is refused: the HTTP status and a sentence for the sender. */
export interface Refusal {
  status: number;
  error: string;
}

/** Receipts are kept while a notice with their nonce could still be fresh, and for the rate window. */
const RECEIPT_MS = Math.max(INVITE_WINDOW_MS, INVITE_FRESH_MS + INVITE_CLOCK_SKEW_MS);

const size = (notice: InviteNotice): number => JSON.stringify(notice).length;

export class Inbox {
  notices: InviteNotice[] = [];
  private receipts: Receipt[] = [];

  constructor(
    private readonly storage: Party.Storage,
    private readonly owner: string,
  ) {}

  async load(): Promise<void> {
    this.notices = (await this.storage.get<InviteNotice[]>('invites')) ?? [];
    this.receipts = (await this.storage.get<Receipt[]>('receipts')) ?? [];
  }

  /**
   * Why `fields` cannot be taken now (null: it can). Cheap, so it runs before the signature is checked, and
   * again just before storing (another POST may have been taken while the signature was checked).
   */
  refusal(fields: InviteFields, notice: InviteNotice, now: number): Refusal | null {
    if (fields.to !== this.owner) return { status: 403, error: 'this notice is addressed to another inbox' };
    if (fields.ts < now - INVITE_FRESH_MS || fields.ts > now + INVITE_CLOCK_SKEW_MS) {
      return { status: 403, error: 'the notice is stale or dated ahead: sign it again with the current time' };
    }
    const recent = this.recent(now);
    if (recent.some((r) => r.nonce === fields.nonce)) return { status: 409, error: 'this notice was already delivered (replayed nonce)' };
    const window = recent.filter((r) => r.at >= now - INVITE_WINDOW_MS);
    if (window.filter((r) => r.by === fields.by).length >= MAX_INVITES_PER_SENDER) {
      return { status: 429, error: 'this sender has left too many invitations in this inbox lately; try again later' };
    }
    if (window.length >= MAX_INVITES_PER_INBOX) return { status: 429, error: 'this inbox takes no more invitations for now; try again later' };
    const kept = this.others(notice);
    if (kept.length + 1 > MAX_PENDING_INVITES || kept.reduce((n, k) => n + size(k), size(notice)) > MAX_INBOX_CHARS) {
      return { status: 429, error: 'this inbox is full until its owner reads it; try again later' };
    }
    return null;
  }

  /** Stores a notice that passed every check (a newer one from the same sender for the same room replaces the older). */
  async take(fields: InviteFields, notice: InviteNotice, now: number): Promise<void> {
    this.receipts = [...this.recent(now), { by: fields.by, nonce: fields.nonce, at: now }];
    this.notices = [...this.others(notice), notice];
    await this.storage.put({ invites: this.notices, receipts: this.receipts });
  }

  /** The owner has the notices for `room`: they leave the inbox (their receipts stay, against replay). */
  async ack(room: string): Promise<void> {
    this.notices = this.notices.filter((n) => n.room !== room);
    await this.storage.put('invites', this.notices);
  }

  private recent(now: number): Receipt[] {
    return this.receipts.filter((r) => r.at >= now - RECEIPT_MS);
  }

  private others(notice: InviteNotice): InviteNotice[] {
    return this.notices.filter((n) => n.room !== notice.room || n.by !== notice.by);
  }
}
