/**
 * Messages: sending (counter, outbox, ack) texts and actions on them (reactions, edits, deletes: see actions.ts), taking in what arrives (live, backup, older pages, peers)
 * with one set of checks, catching up (backup paging, peer sync) and reading history for the UI.
 */
import { MAX_QUOTE_CHARS, MAX_REACTION_CHARS, MAX_TEXT_CHARS, MESSAGE_ID_BYTES } from '@/shared/constants';
import { readPublicKey } from '@/shared/crypto';
import { fromBase64, randomHex } from '@/shared/encoding';
import { openPayload, sealPayload } from '@/shared/message-envelope';
import type { ActionPayload, MessagePayload, Quote } from '@/shared/payloads';
import { MAX_PAGE_MESSAGES, type Envelope, type RoomServerFrame, type SyncPage } from '@/shared/protocol';
import type { MessageView, SendFailure, SendOptions } from '@/utils/protocol-map';
import { isQuotaError, UserFacingError } from '../errors';
import type { OutboxItem, RoomRecord, StoredMessage } from '../records';
import { mayRead, readableSince } from './access';
import { actionOf, applyAction, applyPending, TARGET_SEARCH_PAGES } from './actions';
import { describe, type RoomContext } from './context';
import { acceptCounter, forgetGapsAfter, missingCount } from './counters';
import { expiryFor } from './expiry';
import { maySendAt, resealOutbox } from './keys';
import type { RoomSession } from './session';
import { emitMessage, PREVIEW_CHARS, summary, toView } from './views';

/** Unreadable messages from senders without a counter, counted per session (a lying server cannot grow it without bound). */
const MAX_UNREADABLE_WIRE = 1000;

/** Most envelopes in one page we hand a member who missed them (ephemeral sync); they ask for the next page. */
export const MAX_SYNC_MESSAGES = 500;
/** How long loadOlder waits for the server's page. */
const LOAD_OLDER_TIMEOUT_MS = 15_000;
/** Characters of envelopes per sync-reply frame, under the server's frame cap. */
const SYNC_FRAME_BUDGET = 48_000;
/** Room for an envelope's other fields next to its ciphertext, in a sync-reply frame. */
const ENVELOPE_OVERHEAD_CHARS = 300;

/** Where an envelope came from: the same checks apply to all of them. */
export type Source = 'live' | 'history' | 'older' | 'peer';

/** A message's history entry: a text shown in the chat, or an action kept (hidden) for its envelope. */
function storedFrom(payload: MessagePayload, fromName: string, mine: boolean, status: StoredMessage['status'], env: Envelope | null): Omit<StoredMessage, 'expiresAt'> {
  const base = { id: payload.id, from: payload.from, fromName, ts: payload.ts, seq: env?.seq ?? null, mine, status, event: null, env };
  if (payload.t !== 'text') return { ...base, text: '', kind: 'action', action: actionOf(payload) };
  return { ...base, text: payload.text, kind: 'text', dev: payload.dev, ctr: payload.ctr };
}

function noteLast(record: RoomRecord, message: StoredMessage): void {
  record.lastText = message.text.slice(0, PREVIEW_CHARS);
  record.lastTs = message.ts;
  record.lastId = message.id;
}

/** Our history of a room, in server order, for the UI (actions are folded into their targets, never listed). */
export async function listMessages(ctx: RoomContext, s: RoomSession, limit: number, beforeId?: string): Promise<MessageView[]> {
  const messages = await s.edit((record) => ctx.history.list(record, Math.min(Math.max(limit, 1), 500), beforeId, (m) => m.kind !== 'action'));
  // Catch-up can store an older message after a newer one arrived live; show them in server order.
  const order = (m: StoredMessage) => m.seq ?? Number.MAX_SAFE_INTEGER;
  const me = ctx.me.identity.fingerprint;
  // Texts that never left this browser are only in memory: the newest, after everything stored.
  if (beforeId === undefined) messages.push(...s.unsent.values());
  return messages
    .map((m, i) => ({ m, i }))
    .sort((a, b) => order(a.m) - order(b.m) || a.i - b.i)
    .map(({ m }) => toView(s.id, m, me, (fp) => s.knownName(fp)));
}

function checkText(text: string): void {
  if (!text.trim()) throw new UserFacingError('invalid-input', 'message is empty');
  if (text.length > MAX_TEXT_CHARS) throw new UserFacingError('invalid-input', `messages are at most ${MAX_TEXT_CHARS} characters`);
}

/** Seals, counts and sends one message (optionally a reply); it waits in the outbox until the server acknowledges it. */
export async function sendMessage(ctx: RoomContext, s: RoomSession, text: string, options: SendOptions = {}): Promise<MessageView> {
  checkText(text);
  return s.run(async () => {
    if (options.replyTo === undefined) return sendText(ctx, s, text);
    const answered = await findTarget(ctx, s, options.replyTo);
    if (!answered || answered.kind !== 'text' || answered.deleted) throw new UserFacingError('invalid-input', 'the message you reply to is not here any more');
    return sendText(ctx, s, text, ownQuote(answered));
  });
}

/**
 * Sends a text (in the room's queue). If it cannot leave this browser (storage full, sealing failed), it is
 * answered as failed and kept in memory for Retry (`s.unsent`), with nothing stored and no counter spent.
 */
async function sendText(ctx: RoomContext, s: RoomSession, text: string, quote?: StoredMessage['reply'], id?: string): Promise<MessageView> {
  const me = ctx.me.identity.fingerprint;
  const reply = quote ? { reply: { id: quote.id, from: quote.from, text: quote.text } } : {};
  try {
    return toView(s.id, (await sealAndSend(ctx, s, { t: 'text', text, ...reply }, quote, id)).stored, me, (fp) => s.knownName(fp));
  } catch (error) {
    if (!(error instanceof SendFailed) || error.stored.kind !== 'text') throw error;
    s.unsent.set(error.stored.id, error.stored);
    return toView(s.id, error.stored, me, (fp) => s.knownName(fp));
  }
}

/** A payload that never left this browser, and why: `stored` is its history entry, marked failed. */
class SendFailed extends Error {
  constructor(
    readonly stored: StoredMessage,
    readonly failure: SendFailure,
  ) {
    super(failure.message);
  }
}

/** Error codes of the server that a resend fixes by itself: a new key epoch (re-sealed), or its rate (resent shortly). */
const TRANSIENT_REFUSALS = new Set(['bad-epoch', 'rate-limited']);
/** Error codes that can only be about a message, also when the server names none (the oldest one still waiting is meant). */
const MESSAGE_REFUSALS = new Set(['backup-full']);

/**
 * The server refused a message of ours (an error frame naming it, or one only a message can cause): unless a resend
 * fixes that by itself, it stays in the outbox marked failed (not resent on reconnect) and shows the reason, until
 * the person retries or discards it. A refused reaction, edit or delete is dropped (it is never shown).
 */
export async function onMessageRefused(ctx: RoomContext, s: RoomSession, ref: string | undefined, failure: SendFailure): Promise<void> {
  if (TRANSIENT_REFUSALS.has(failure.code)) return;
  if (ref === undefined && !MESSAGE_REFUSALS.has(failure.code)) return;
  const item = s.record.outbox.find((o) => (ref === undefined ? !o.failed : o.id === ref));
  if (!item || item.failed) return;
  s.edit((record) => {
    const held = record.outbox.find((o) => o.id === item.id);
    if (held) held.failed = { ...failure };
  });
  const updated = await s.edit((record) => ctx.history.update(record, item.id, { status: 'failed', failure: { ...failure } }));
  if (updated?.kind === 'action') s.edit((record) => void (record.outbox = record.outbox.filter((o) => o.id !== item.id)));
  await s.save();
  if (updated) emitMessage(ctx, s, updated, true);
}

/**
 * Sends a failed message of ours again, with the same id. Refused by the server: the same envelope (same counter: a
 * member who saw later ones holds it as a gap, and takes it). Never left this browser: sealed again with the next
 * counter (the failed attempt spent none). Answers with the message as it is now.
 */
export async function retryMessage(ctx: RoomContext, s: RoomSession, id: string): Promise<MessageView> {
  return s.run(async () => {
    const unsent = s.unsent.get(id);
    if (unsent) {
      s.unsent.delete(id);
      return sendText(ctx, s, unsent.text, unsent.reply, id);
    }
    const item = s.record.outbox.find((o) => o.id === id && o.failed);
    if (!item) throw new UserFacingError('invalid-input', 'that message is not waiting to be sent again');
    s.edit((record) => {
      const held = record.outbox.find((o) => o.id === id);
      if (held) delete held.failed;
    });
    const updated = await s.edit((record) =>
      ctx.history.modify(record, id, (m) => {
        m.status = 'sending';
        delete m.failure;
        return true;
      }),
    );
    await s.save();
    if (item.epoch < s.currentEpoch()) await resealOutbox(ctx, s);
    else if (maySendAt(s, item.epoch)) s.send({ type: 'msg', id, epoch: item.epoch, ct: item.ct });
    if (!updated) throw new UserFacingError('invalid-input', 'that message is not here any more');
    return toView(s.id, updated, ctx.me.identity.fingerprint, (fp) => s.knownName(fp));
  });
}

/**
 * Gives up on a failed message of ours: it leaves this browser's history and outbox. One the server refused spent a
 * counter, so a delete naming that counter follows (members who saw later messages then show no gap for it).
 */
export async function discardMessage(ctx: RoomContext, s: RoomSession, id: string): Promise<void> {
  await s.run(async () => {
    if (s.unsent.delete(id)) return;
    const item = s.record.outbox.find((o) => o.id === id && o.failed);
    if (!item) throw new UserFacingError('invalid-input', 'that message is not waiting to be sent again');
    s.edit((record) => void (record.outbox = record.outbox.filter((o) => o.id !== id)));
    const removed = await s.edit((record) => ctx.history.remove(record, id));
    await s.save();
    ctx.emit({ type: 'expired', roomId: s.id, ids: [id] });
    if (removed?.dev && removed.ctr) await sealAndSend(ctx, s, { t: 'delete', target: id, tdev: removed.dev, tctr: removed.ctr }).catch(() => undefined);
  });
}

/** Our reaction to a message ('' takes it back). */
export async function react(ctx: RoomContext, s: RoomSession, messageId: string, emoji: string): Promise<MessageView> {
  if (emoji.length > MAX_REACTION_CHARS || /\s/u.test(emoji)) throw new UserFacingError('invalid-input', 'a reaction is one emoji');
  return act(ctx, s, messageId, { t: 'react', target: messageId, emoji }, () => null);
}

/** Changes the text of one of our own messages, for everyone. */
export async function editMessage(ctx: RoomContext, s: RoomSession, messageId: string, text: string): Promise<MessageView> {
  checkText(text);
  return act(ctx, s, messageId, { t: 'edit', target: messageId, text }, ownOnly('edit'));
}

/** Deletes one of our own messages, for everyone. */
export async function deleteMessage(ctx: RoomContext, s: RoomSession, messageId: string): Promise<MessageView> {
  return act(ctx, s, messageId, { t: 'delete', target: messageId }, ownOnly('delete'));
}

function ownOnly(verb: string): (target: StoredMessage, me: string) => string | null {
  return (target, me) => (target.from === me ? null : `you can only ${verb} your own messages`);
}

/** Sends an action on a message we hold, after `refuse` had its say, and applies it here. */
async function act(ctx: RoomContext, s: RoomSession, messageId: string, body: ActionBody, refuse: (target: StoredMessage, me: string) => string | null): Promise<MessageView> {
  return s.run(async () => {
    const me = ctx.me.identity.fingerprint;
    const target = await findTarget(ctx, s, messageId);
    if (!target || target.kind !== 'text' || target.deleted) throw new UserFacingError('invalid-input', 'that message is not here any more');
    const refusal = refuse(target, me);
    if (refusal) throw new UserFacingError('invalid-input', refusal);
    // A delete names the deleted message's device and counter, so members who never got it don't miss it.
    const sent = body.t === 'delete' && target.dev && target.ctr ? { ...body, tdev: target.dev, tctr: target.ctr } : body;
    const { changed } = await sealAndSend(ctx, s, sent);
    return toView(s.id, changed ?? target, me, (fp) => s.knownName(fp));
  });
}

function findTarget(ctx: RoomContext, s: RoomSession, id: string): Promise<StoredMessage | null> {
  return s.edit((record) => ctx.history.modify(record, id, () => false, TARGET_SEARCH_PAGES));
}

/** A reply's quote of a message we hold: its author and text as we have them. */
function ownQuote(held: StoredMessage): NonNullable<StoredMessage['reply']> {
  return { id: held.id, from: held.from, fromName: held.fromName, text: held.text.slice(0, MAX_QUOTE_CHARS) };
}

/**
 * The quote a reply shows: our own copy of the answered message when we hold it (whoever the replier says wrote
 * it: the id names the message), else what the replier quoted, under the name of the member it names.
 */
async function quoteFor(ctx: RoomContext, s: RoomSession, quote: Quote): Promise<NonNullable<StoredMessage['reply']>> {
  const held = await findTarget(ctx, s, quote.id);
  if (held?.kind === 'text') return ownQuote(held);
  return { id: quote.id, from: quote.from, fromName: s.roster?.members.get(quote.from)?.name ?? '', text: quote.text };
}

/** A history entry of a payload that arrived (or that we restore), with its quote, if a reply, as we show it. */
async function withQuote(ctx: RoomContext, s: RoomSession, payload: MessagePayload, stored: StoredMessage): Promise<StoredMessage> {
  if (payload.t === 'text' && payload.reply) stored.reply = await quoteFor(ctx, s, payload.reply);
  return stored;
}

/**
 * Writes an entry to history and has its disappearance scheduled; an action is then applied to its target
 * (resolves with the target it changed).
 */
async function keep(ctx: RoomContext, s: RoomSession, stored: StoredMessage): Promise<StoredMessage | null> {
  await s.edit((record) => ctx.history.append(record, stored));
  if (stored.expiresAt !== null) ctx.scheduleSweep();
  return stored.action ? applyAction(ctx, s, stored.from, stored.ts, stored.action, stored.expiresAt) : null;
}

type PayloadFields = 'v' | 'room' | 'epoch' | 'from' | 'dev' | 'ctr' | 'id' | 'ts';
type Body<P> = P extends MessagePayload ? Omit<P, PayloadFields> : never;
type ActionBody = Body<ActionPayload>;

/**
 * Seals, counts and sends one payload (a text, with `reply` its quote as we show it, or an action, applied here
 * too), and keeps it in history; it waits in the outbox until the server acknowledges it. Runs in the room's queue
 * (the caller's `s.run`). Resolves with the entry and, for an action, the message it changed.
 */
async function sealAndSend(
  ctx: RoomContext,
  s: RoomSession,
  body: Body<MessagePayload>,
  reply?: StoredMessage['reply'],
  id = randomHex(MESSAGE_ID_BYTES),
): Promise<{ stored: StoredMessage; changed: StoredMessage | null }> {
  if (s.record.removed) throw new UserFacingError('removed', 'you are no longer a member of this room');
  const me = ctx.me.identity;
  // Under the room's current key, unless a member who left holds it or it has not reached us yet: then the message
  // waits in the outbox, sealed under the newest key we hold, and `resealOutbox` sends it under the next (attack 3).
  const current = Math.max(s.currentEpoch(), s.serverEpoch);
  const ready = maySendAt(s, current);
  const epoch = ready ? current : s.currentEpoch();
  const gek = s.keyFor(epoch);
  if (!gek) throw new UserFacingError('no-key', 'the key for this room has not arrived yet');
  const ctr = s.record.myCtr + 1;
  const payload = { v: 1, room: s.id, epoch, from: me.fingerprint, dev: ctx.device, ctr, id, ts: ctx.now(), ...body } as MessagePayload;
  const stored: StoredMessage = { ...storedFrom(payload, me.name, true, 'sending', null), expiresAt: expiryFor(s, payload.ts), epoch, ...(reply ? { reply } : {}) };
  const failed = (failure: SendFailure) => new SendFailed({ ...stored, status: 'failed', failure }, failure);
  let ct: string;
  try {
    ct = await sealPayload(fromBase64(gek), payload, ctx.me.privateKey);
  } catch (error) {
    throw failed({ code: 'seal-failed', message: describe(error) });
  }
  const item: OutboxItem = { id: payload.id, epoch, ct, unwritten: true };
  const counter = `${payload.from}:${payload.dev}`;
  const before = { myCtr: s.record.myCtr, peer: s.record.peerCtr[counter], lastText: s.record.lastText, lastTs: s.record.lastTs, lastId: s.record.lastId };
  s.edit((record) => {
    record.myCtr = ctr;
    record.peerCtr[counter] = ctr;
    record.outbox.push(item);
    if (stored.kind === 'text') noteLast(record, stored);
  });
  // The counter and the outbox are on disk before the frame leaves (a restart resends it, never reuses the
  // counter); the history page is written after, off the path to the other members (see `restoreSent`).
  try {
    await s.save();
  } catch (error) {
    if (!isQuotaError(error)) throw error;
    // Storage is full: nothing of it was written and nothing went out, so it is as if it had never been counted.
    s.edit((record) => {
      record.outbox = record.outbox.filter((o) => o !== item);
      Object.assign(record, { myCtr: before.myCtr, lastText: before.lastText, lastTs: before.lastTs, lastId: before.lastId });
      if (before.peer === undefined) delete record.peerCtr[counter];
      else record.peerCtr[counter] = before.peer;
    });
    if (stored.kind !== 'text') throw new UserFacingError('storage-full', `storage is full: ${describe(error)}`);
    throw failed({ code: 'storage-full', message: describe(error) });
  }
  if (ready && s.outboxFlowing()) s.send({ type: 'msg', id: payload.id, epoch, ct });
  let changed: StoredMessage | null = null;
  try {
    changed = await keep(ctx, s, stored);
    s.edit((record) => {
      const held = record.outbox.find((o) => o.id === item.id);
      if (held) delete held.unwritten;
    });
    await s.save();
  } catch (error) {
    // It went out, and the outbox on disk has it: its history entry is written once there is room (see `restoreSent`).
    if (!isQuotaError(error)) throw error;
  }
  return { stored, changed };
}

/**
 * A message from a verified member, under a key we hold, that does not open. Dropped (never stored); when we hold no
 * counter of its sender yet, no gap will ever show it, so the room counts it as a message that could not be read
 * (until it turns up whole, or the notice is dismissed). A known sender's next message shows it as missing instead.
 */
function noteUnreadable(ctx: RoomContext, s: RoomSession, envelope: Envelope): void {
  if (Object.keys(s.record.peerCtr).some((device) => device.startsWith(`${envelope.from}:`))) return;
  if (s.unreadableWire.has(envelope.id) || s.unreadableWire.size >= MAX_UNREADABLE_WIRE) return;
  s.unreadableWire.add(envelope.id);
  ctx.emit({ type: 'summary', room: summary(s) });
}

/**
 * Takes in one envelope, live from the server, from the backup, or from a member (peer sync): the same
 * checks for all: a verified sender, their signature inside, the envelope matching what was signed,
 * and a per-device counter that drops duplicates and records gaps. Then a text is shown, an action applied.
 */
export async function ingest(ctx: RoomContext, s: RoomSession, envelope: Envelope, source: Source): Promise<void> {
  const sender = s.roster?.members.get(envelope.from);
  if (!sender) return s.reject(`message from ${envelope.from}, who is not in the verified membership`);
  const gek = s.keyFor(envelope.epoch);
  if (!gek) return s.reject(`no key for epoch ${envelope.epoch}`);
  let payload: MessagePayload | null;
  try {
    const binding = { room: s.id, epoch: envelope.epoch, from: envelope.from, id: envelope.id };
    payload = await openPayload(fromBase64(gek), envelope.ct, binding, await readPublicKey(sender.publicKey));
  } catch (error) {
    noteUnreadable(ctx, s, envelope);
    return s.reject(`message rejected (${source}): ${describe(error)}`);
  }
  if (!payload) {
    noteUnreadable(ctx, s, envelope);
    return s.reject('message payload is malformed');
  }
  if (payload.from !== envelope.from || payload.room !== s.id || payload.epoch !== envelope.epoch || payload.id !== envelope.id) {
    return s.reject('message payload does not match its envelope (forged sender, room, epoch or id)');
  }
  // It turned up whole after all (from the backup or a member): no longer counted as unreadable.
  if (s.unreadableWire.delete(envelope.id)) ctx.emit({ type: 'summary', room: summary(s) });
  // `seq` is not signed. The server's own frames (live, backup pages) say what it has stored; a member's
  // sync-reply only lends a position to show the message at, capped at what the server said exists, and never
  // moves what we have seen from the server (else a member could stop our catch-up: issue 9, attack 5).
  const fromServer = source !== 'peer';
  const seq = fromServer ? envelope.seq : Math.max(1, Math.min(envelope.seq, s.serverSeq));
  if (fromServer) s.serverSeq = Math.max(s.serverSeq, seq);
  const counter = `${payload.from}:${payload.dev}`;
  const ctr = payload.ctr;
  // When this message disappears; the messages it shows were skipped were sent before it, so they disappear by then too.
  const expiresAt = expiryFor(s, payload.ts);
  const now = ctx.now();
  const fresh = s.edit((record) => {
    if (fromServer && (source !== 'live' || !backupOwed(s))) record.lastSeq = Math.max(record.lastSeq, seq);
    const gapsBefore = missingCount(record.missing[counter]);
    const accepted = acceptCounter(record, counter, ctr);
    if (missingCount(record.missing[counter]) > gapsBefore && expiresAt !== null) forgetGapsAfter(record, counter, expiresAt, now);
    return accepted;
  });
  if (!fresh) {
    await s.save();
    return; // a replay or a duplicate: already shown
  }
  if (expiresAt !== null && expiresAt <= now) {
    await s.save();
    return; // arrived after its timer ran out
  }
  const mine = envelope.from === ctx.me.identity.fingerprint;
  const entry = storedFrom(payload, mine ? ctx.me.identity.name : sender.name, mine, mine ? 'sent' : 'received', { ...envelope, seq });
  const stored = await withQuote(ctx, s, payload, { ...entry, expiresAt });
  if (payload.t !== 'text') return ingestAction(ctx, s, payload, stored);
  applyPending(s, stored);
  s.edit((record) => {
    if (!mine && source !== 'older') record.unread += 1;
    if (!stored.deleted) noteLast(record, stored);
  });
  // Shown before it is written: the write follows in this room's queue, so nothing reads a half-done state,
  // and if the worker dies in between, the message comes back from the backup or a member (lastSeq and
  // the counter were not saved either).
  if (!stored.deleted) emitMessage(ctx, s, stored);
  await keep(ctx, s, stored);
  await s.save();
}

/** An action that passed every check of `ingest`: kept (for its envelope), then applied to its target. */
async function ingestAction(ctx: RoomContext, s: RoomSession, payload: ActionPayload, stored: StoredMessage): Promise<void> {
  if (payload.t === 'delete' && payload.tdev !== undefined && payload.tctr !== undefined) {
    // The deleted message counts as received (its author said it existed and is gone): no gap for it, and a copy
    // that turns up later is dropped as a duplicate. Only the signer's own counters can be touched this way.
    const { tdev, tctr } = payload;
    s.edit((record) => acceptCounter(record, `${payload.from}:${tdev}`, tctr));
  }
  await keep(ctx, s, stored);
  await s.save();
}

/**
 * A backup room still owes us pages from before a live message or an ack: `lastSeq` (stored: where the next start
 * catches up from) stays put until the backup's last page arrived, else a worker restarted in between would skip them.
 */
function backupOwed(s: RoomSession): boolean {
  return s.record.mode === 'backup' && s.syncSince !== null;
}

/** The server stored and relayed a message of ours: out of the outbox, marked sent. */
export async function onAck(ctx: RoomContext, s: RoomSession, id: string, seq: number, ts: number): Promise<void> {
  const item = s.record.outbox.find((o) => o.id === id);
  if (!item) return;
  const { epoch, ct, unwritten } = item;
  if (s.backupFull) {
    s.backupFull = false;
    ctx.emit({ type: 'state' });
  }
  s.edit((record) => {
    record.outbox = record.outbox.filter((o) => o.id !== id);
    if (!backupOwed(s)) record.lastSeq = Math.max(record.lastSeq, seq);
  });
  const env: Envelope = { seq, id, epoch, from: ctx.me.identity.fingerprint, ts, ct };
  const patch = { status: 'sent' as const, seq, env };
  let updated = await s.edit((record) => ctx.history.update(record, id, patch));
  // Acknowledged behind more than the newest pages' worth of messages (it waited out a server restart mid-burst):
  // search the whole history, else it stayed "sending" with no envelope to hand a member who missed it.
  if (!updated) updated = await s.edit((record) => ctx.history.update(record, id, patch, record.pages));
  if (!updated && unwritten) updated = await restoreSent(ctx, s, env);
  await s.save();
  if (updated) emitMessage(ctx, s, updated);
}

/**
 * A message of ours the server acknowledged that is not in our history: the worker stopped after the frame
 * left and before the page was written (see `sendMessage`). It is rebuilt from our own envelope.
 */
async function restoreSent(ctx: RoomContext, s: RoomSession, env: Envelope): Promise<StoredMessage | null> {
  const gek = s.keyFor(env.epoch);
  const binding = { room: s.id, epoch: env.epoch, from: env.from, id: env.id };
  const payload = gek ? await openPayload(fromBase64(gek), env.ct, binding, ctx.me.privateKey.toPublic()).catch(() => null) : null;
  if (!payload || payload.id !== env.id) return null;
  const expiresAt = expiryFor(s, payload.ts);
  if (expiresAt !== null && expiresAt <= ctx.now()) return null;
  const stored = await withQuote(ctx, s, payload, { ...storedFrom(payload, ctx.me.identity.name, true, 'sent', env), expiresAt });
  await keep(ctx, s, stored);
  return stored;
}

/**
 * Everything still unacknowledged goes out again (same ids: the server drops duplicates), if its key may still be
 * used; the rest waits for `resealOutbox` under the next key (never flushed under a key a departed member holds).
 */
export function resendOutbox(s: RoomSession): void {
  for (const item of s.record.outbox) if (!item.failed && maySendAt(s, item.epoch)) s.send({ type: 'msg', id: item.id, epoch: item.epoch, ct: item.ct });
  s.markFlushed();
}

/**
 * After a welcome: catch up on what we missed (from where the last unfinished catch-up began, if one was cut short),
 * from the backup or from online members. Ephemeral: with gaps still
 * open (a sync cut short by the connection dropping, while later messages moved `lastSeq` on), members are asked
 * from before them too (as when a member comes online: see onPresence), else the gaps would never fill.
 */
export function requestCatchUp(s: RoomSession): void {
  const since = s.syncSince ?? s.record.lastSeq;
  if (s.record.mode === 'backup') s.send({ type: 'history', after: since, limit: MAX_PAGE_MESSAGES });
  else s.send({ type: 'sync-request', since: Object.keys(s.record.missing).length ? Math.max(0, Math.min(since, s.record.lastSeq - MAX_SYNC_MESSAGES)) : since });
}

/** A page from the server's backup: newer ones page on by themselves; an older one answers `loadOlder`. */
export async function onHistory(ctx: RoomContext, s: RoomSession, frame: Extract<RoomServerFrame, { type: 'history' }>): Promise<void> {
  for (const envelope of frame.messages) await ingest(ctx, s, envelope, frame.direction === 'before' ? 'older' : 'history');
  const last = frame.messages.at(-1);
  if (frame.direction === 'after' && frame.more && last) s.send({ type: 'history', after: last.seq, limit: MAX_PAGE_MESSAGES });
  // The backup's last page: caught up (see requestCatchUp).
  if (frame.direction === 'after' && !frame.more) s.syncSince = null;
  if (frame.direction === 'before') {
    const oldest = frame.more ? (frame.messages[0]?.seq ?? s.record.oldestLoaded) : 0;
    s.edit((record) => {
      record.oldestLoaded = oldest;
    });
    await s.save();
    s.olderWaiter?.(frame.messages.length);
  }
}

/**
 * A member missed messages: hand them the original envelopes we hold that they may read (they verify every signature
 * themselves), one page at a time from the newest; the last frame says where the page ends, and the first page how
 * many we hold in the whole range, so they can ask for the next page and tell what they still lack.
 */
export async function onSyncRequest(ctx: RoomContext, s: RoomSession, from: string, since: number, before?: number): Promise<void> {
  const readable = s.roster ? readableSince(s.record.chain, s.roster, from) : null;
  if (readable === null) return s.reject('sync request from someone outside the verified membership');
  // Only what the room lets them read: sent after they joined, unless earlier history is shared (issue 9, attack 4).
  const range = before === undefined ? { since } : { since, before };
  const page = await s.edit((record) => ctx.history.syncPage(record, range, MAX_SYNC_MESSAGES, (m) => mayRead(m, from, readable)));
  // Nothing they may read: no answer at all (the newcomer learns nothing about what the room holds).
  if (!page.envelopes.length) return;
  const end: SyncPage = { since, next: page.next, ...(before === undefined ? { held: page.held } : {}) };
  let chunk: Envelope[] = [];
  let size = 0;
  const flush = (last: boolean) => {
    if (chunk.length || last) s.send({ type: 'sync-reply', to: from, messages: chunk, ...(last ? { page: end } : {}) });
    chunk = [];
    size = 0;
  };
  for (const envelope of page.envelopes) {
    const chars = envelope.ct.length + ENVELOPE_OVERHEAD_CHARS;
    if (size + chars > SYNC_FRAME_BUDGET || chunk.length >= MAX_PAGE_MESSAGES) flush(false);
    chunk.push(envelope);
    size += chars;
  }
  flush(true);
}

/**
 * What a member handed us: the same checks as anything else. At the end of a page, ask that member for the next
 * (older) one; once it has none, count what it said it held against what arrived.
 */
export async function onSyncReply(ctx: RoomContext, s: RoomSession, from: string, messages: Envelope[], page?: SyncPage): Promise<void> {
  for (const envelope of messages) await ingest(ctx, s, envelope, 'peer');
  const transfer = s.syncTransfers.get(from) ?? { asked: Infinity, held: null, got: 0 };
  transfer.got += messages.length;
  s.syncTransfers.set(from, transfer);
  if (page) {
    // What a member says it holds is capped by what the server says exists (a member cannot invent a large gap).
    if (page.held !== undefined) transfer.held = Math.min(page.held, Math.max(0, s.serverSeq - page.since));
    // Each page must end below the one before, so a member cannot keep us asking for ever.
    if (page.next !== null && page.next > page.since && page.next < transfer.asked) {
      transfer.asked = page.next;
      s.send({ type: 'sync-request', since: page.since, before: page.next, to: from });
    } else {
      finishTransfer(s, from);
    }
  }
  if (s.record.lastSeq >= s.serverSeq) s.syncSince = null;
  ctx.emit({ type: 'room', roomId: s.id });
}

/** A member's answer ended (or the member left): what it held and did not hand over counts as missing. */
function finishTransfer(s: RoomSession, from: string): void {
  const transfer = s.syncTransfers.get(from);
  s.syncTransfers.delete(from);
  if (!transfer || transfer.held === null) return;
  s.syncShort = Math.max(0, transfer.held - transfer.got);
}

/** Who is online changed; someone who came online may hold what we missed (ephemeral rooms): ask again. */
export function onPresence(ctx: RoomContext, s: RoomSession, online: string[]): void {
  const newcomer = online.some((fp) => !s.online.has(fp) && fp !== ctx.me.identity.fingerprint);
  s.online = new Set(online);
  // A member who left in the middle of handing us a range: what it did not get to counts as missing.
  for (const from of [...s.syncTransfers.keys()]) if (!s.online.has(from)) finishTransfer(s, from);
  if (newcomer && s.record.mode === 'ephemeral' && (s.syncSince !== null || s.syncShort > 0 || Object.keys(s.record.missing).length)) {
    s.send({ type: 'sync-request', since: s.syncSince ?? Math.max(0, s.record.lastSeq - MAX_SYNC_MESSAGES) });
  }
  ctx.emit({ type: 'room', roomId: s.id });
}

/** Backup rooms: fetch the page of messages before the oldest we hold. Resolves with how many arrived. */
export async function loadOlder(ctx: RoomContext, s: RoomSession): Promise<number> {
  if (s.record.mode !== 'backup' || s.record.oldestLoaded === 0) return 0;
  const before = s.record.oldestLoaded ?? (await s.edit((record) => ctx.history.firstSeq(record)));
  if (!before || before <= 1) return 0;
  if (s.conn?.status !== 'ready') throw new UserFacingError('offline', 'older messages come from the server; connect first');
  s.olderWaiter?.(0);
  return new Promise<number>((resolve) => {
    const timer = setTimeout(() => finish(0), LOAD_OLDER_TIMEOUT_MS);
    const finish = (count: number) => {
      clearTimeout(timer);
      if (s.olderWaiter === finish) s.olderWaiter = null;
      resolve(count);
    };
    s.olderWaiter = finish;
    s.send({ type: 'history', before, limit: MAX_PAGE_MESSAGES });
  });
}

/** The room was read: its unread count goes to zero and the UI gets its summary. */
export async function markRead(ctx: RoomContext, s: RoomSession): Promise<void> {
  if (s.record.unread === 0) return;
  await s.run(async () => {
    s.edit((record) => {
      record.unread = 0;
    });
    await s.save();
  });
  ctx.emit({ type: 'summary', room: summary(s) });
}
