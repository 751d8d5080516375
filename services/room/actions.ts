/**
 * Message actions: a reaction, an edit or a delete, each a signed message of its own (see shared/payloads.ts)
 * applied to its target in local history. Who may do what is decided here, on every member's device, from the
 * verified sender of the action: anyone in the room may react (one reaction each); only the target's author
 * may edit or delete it. The server relays these like any message and can neither make nor alter one.
 * An action whose target has not arrived yet waits in the room record (bounded) and is applied when it does.
 */
import type { ActionPayload } from '@/shared/payloads';
import type { MessageAction, PendingAction, RoomRecord, StoredMessage } from '../records';
import type { RoomContext } from './context';
import type { RoomSession } from './session';
import { emitMessage, refreshPreview } from './views';

/** Actions kept waiting for a target that has not arrived. */
export const MAX_PENDING_ACTIONS = 200;
/** How long an action waits for its target when the room has no timer. */
const PENDING_ACTION_MS = 24 * 60 * 60 * 1000;
/** Newest history pages searched for an action's target (25 messages each): editing something older is rare. */
export const TARGET_SEARCH_PAGES = 40;

export function actionOf(payload: ActionPayload): MessageAction {
  if (payload.t === 'react') return { type: 'react', target: payload.target, emoji: payload.emoji };
  if (payload.t === 'edit') return { type: 'edit', target: payload.target, text: payload.text };
  return { type: 'delete', target: payload.target };
}

export type Outcome = { changed: boolean } | { refused: string };

/** What `action`, signed by `from` at `ts`, does to `target`: changes it in place, leaves it, or is refused. */
export function applyTo(target: StoredMessage, from: string, ts: number, action: MessageAction): Outcome {
  if (target.kind !== 'text') return { refused: `a ${action.type} of something that is not a message` };
  if (target.deleted) return { changed: false };
  if (action.type === 'react') {
    const reactions = (target.reactions ??= {});
    const previous = reactions[from];
    if (previous && previous.ts > ts) return { changed: false };
    if (action.emoji === '') delete reactions[from];
    else reactions[from] = { emoji: action.emoji, ts };
    return { changed: true };
  }
  if (target.from !== from) return { refused: `a ${action.type} of someone else's message: the sender is not its author` };
  if (action.type === 'edit') {
    if (target.editedAt !== undefined && target.editedAt > ts) return { changed: false };
    target.text = action.text;
    target.editedAt = ts;
    return { changed: true };
  }
  target.text = '';
  target.deleted = true;
  // Nothing of it stays: not the quote it carried, not the reactions, not the envelope (so no member hands it on).
  delete target.reply;
  delete target.reactions;
  delete target.editedAt;
  target.env = null;
  return { changed: true };
}

/**
 * Applies an action that arrived (or that we sent) to its target in history. If the target is not there yet, the
 * action waits for it (`applyPending`). Refusals are reported like any rejected message.
 */
export async function applyAction(ctx: RoomContext, s: RoomSession, from: string, ts: number, action: MessageAction, expiresAt: number | null): Promise<StoredMessage | null> {
  const result: { outcome: Outcome } = { outcome: { changed: false } };
  const target = await s.edit((record) =>
    ctx.history.modify(
      record,
      action.target,
      (message) => {
        result.outcome = applyTo(message, from, ts, action);
        return 'changed' in result.outcome && result.outcome.changed;
      },
      TARGET_SEARCH_PAGES,
    ),
  );
  const { outcome } = result;
  if (!target) {
    s.edit((record) => keepPending(record, { from, ts, action, until: expiresAt ?? ts + PENDING_ACTION_MS }, ctx.now()));
    return null;
  }
  if ('refused' in outcome) {
    s.reject(outcome.refused);
    return null;
  }
  if (!outcome.changed) return target;
  if (action.type !== 'react' && s.record.lastId === target.id) await refreshPreview(ctx.history, s);
  emitMessage(ctx, s, target, true);
  if (action.type === 'delete') await forgetQuotes(ctx, s, target.id);
  return target;
}

/**
 * A deleted message's text also leaves the quotes of it in replies we hold (searched as far as its target was).
 * The replies' own envelopes still carry the quote their senders signed; they are not ours to change.
 */
async function forgetQuotes(ctx: RoomContext, s: RoomSession, id: string): Promise<void> {
  const replies = await s.edit((record) =>
    ctx.history.modifyEach(
      record,
      (message) => {
        if (message.reply?.id !== id || message.reply.text === '') return false;
        message.reply.text = '';
        return true;
      },
      TARGET_SEARCH_PAGES,
    ),
  );
  for (const reply of replies) emitMessage(ctx, s, reply, true);
}

/** Applies the actions that were waiting for a message that just arrived (before it is stored and shown). */
export function applyPending(s: RoomSession, message: StoredMessage): void {
  const waiting = s.record.pendingActions?.filter((p) => p.action.target === message.id) ?? [];
  if (!waiting.length) return;
  s.edit((record) => {
    record.pendingActions = record.pendingActions?.filter((p) => p.action.target !== message.id);
  });
  for (const pending of waiting) {
    const outcome = applyTo(message, pending.from, pending.ts, pending.action as MessageAction);
    if ('refused' in outcome) s.reject(outcome.refused);
  }
}

function keepPending(record: RoomRecord, pending: PendingAction, now: number): void {
  const kept = (record.pendingActions ?? []).filter((p) => p.until > now);
  kept.push(pending);
  record.pendingActions = kept.slice(-MAX_PENDING_ACTIONS);
}
