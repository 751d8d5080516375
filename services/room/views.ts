/** What the UI sees of a room: its summary, its details, its messages, and the preview the room list shows. */
import { formatContactCode, openWithGek, readPublicKey } from '@/shared/crypto';
import { fromBase64, fromUtf8 } from '@/shared/encoding';
import { DEFAULT_SETTINGS, type LinkState } from '@/shared/membership';
import type { JoinRequestView, KeyWarningView, MemberView, MessageView, RoomDetail, RoomEventView, RoomSummary } from '@/utils/protocol-map';
import { connectionState } from '../connection';
import type { History } from '../history';
import type { RoomEvent, StoredMessage } from '../records';
import type { RoomContext } from './context';
import { missingCount } from './counters';
import { currentEpoch, type DeepReadonly, type RoomSession } from './session';

/** Characters of the last message shown in the room list. */
export const PREVIEW_CHARS = 120;

export function summary(s: RoomSession): RoomSummary {
  const r = s.record;
  return {
    id: r.id,
    name: r.name,
    mode: r.mode,
    unread: r.unread,
    lastText: r.lastText,
    lastTs: r.lastTs ?? r.createdAt,
    connected: s.conn?.status === 'ready',
    // No connection yet (the room is starting, or the host changed): it is about to be made.
    connection: s.record.removed ? 'offline' : s.conn ? connectionState(s.conn.status) : 'reconnecting',
    retryAt: s.conn?.status === 'connecting' ? s.conn.retryAt : null,
    hasKey: !r.removed && r.keys[String(Math.max(currentEpoch(r), s.serverEpoch))] !== undefined,
    removed: r.removed,
    backupFull: s.backupFull,
    muted: r.muted === true,
    joinState: r.joining?.state ?? null,
    joinError: r.joining?.error ?? null,
    requests: s.requests.size,
    missing: Object.values(r.missing).reduce((n, gaps) => n + missingCount(gaps), 0) + s.syncShort,
    unreadable: s.unreadable + s.unreadableWire.size,
  };
}

/** Every room, the most recently active first. */
export function summaries(sessions: Iterable<RoomSession>): RoomSummary[] {
  return [...sessions].map(summary).sort((a, b) => (b.lastTs ?? 0) - (a.lastTs ?? 0));
}

/** What the contacts book says of someone (services/contacts.ts): verified by us, or not who they seem. */
export interface Trust {
  isVerified(fingerprint: string): boolean;
  warning(fingerprint: string): KeyWarningView | null;
}

const NO_TRUST: Trust = { isVerified: () => false, warning: () => null };

export async function roomDetail(ctx: RoomContext, s: RoomSession, trust: Trust = NO_TRUST): Promise<RoomDetail> {
  const me = ctx.me.identity.fingerprint;
  const roster = s.roster;
  const members: MemberView[] = roster
    ? [...roster.members.values()].map((m) => ({
        fingerprint: m.fingerprint,
        name: m.name,
        role: m.role,
        online: s.online.has(m.fingerprint),
        me: m.fingerprint === me,
        contactCode: formatContactCode(m.fingerprint),
        verified: true,
        canCreateLinks: m.canCreateLinks,
        creator: m.fingerprint === roster.creator,
        contactVerified: m.fingerprint !== me && trust.isVerified(m.fingerprint),
        keyWarning: m.fingerprint === me ? null : trust.warning(m.fingerprint),
      }))
    : [];
  for (const fingerprint of s.unverified) {
    members.push({
      fingerprint,
      name: '',
      role: 'member',
      online: s.online.has(fingerprint),
      me: false,
      contactCode: formatContactCode(fingerprint),
      verified: false,
      canCreateLinks: false,
      creator: false,
      contactVerified: false,
      keyWarning: null,
    });
  }
  const joinRequests: JoinRequestView[] = [];
  for (const r of s.requests.values()) {
    joinRequests.push({ fingerprint: r.fp, name: r.name, contactCode: formatContactCode(r.fp), linkLabel: await linkLabel(s, roster?.links.get(r.link)), ts: r.ts });
  }
  return {
    ...summary(s),
    members,
    myRole: roster?.members.get(me)?.role ?? 'member',
    epoch: s.currentEpoch(),
    joinRequests,
    settings: roster?.settings ?? DEFAULT_SETTINGS,
    canCreateLinks: roster?.members.get(me)?.canCreateLinks ?? false,
    banned: [...(roster?.banned ?? [])].map((fingerprint) => ({ fingerprint, contactCode: formatContactCode(fingerprint) })),
    keyWarnings: members.flatMap((m) => (m.keyWarning ? [{ fingerprint: m.fingerprint, name: m.name, ...m.keyWarning }] : [])),
    gaps: Object.entries(s.record.missing)
      .filter(([, gaps]) => gaps.length > 0)
      .map(([key, gaps]) => {
        const fingerprint = key.split(':')[0] ?? '';
        return { fingerprint, name: roster?.members.get(fingerprint)?.name ?? '', count: missingCount(gaps) };
      })
      // Held by a member who answered a sync and never handed over: whose they are is unknown.
      .concat(s.syncShort > 0 ? [{ fingerprint: '', name: '', count: s.syncShort }] : []),
  };
}

/** Decrypts a link's label (sealed and signed with the room key by the member who made it). */
export async function linkLabel(s: RoomSession, link: LinkState | undefined): Promise<string | null> {
  const author = link ? s.roster?.members.get(link.by) : undefined;
  const gek = s.keyFor(s.currentEpoch());
  if (!link?.label || !author || !gek) return null;
  try {
    return fromUtf8(await openWithGek(fromBase64(gek), link.label, await readPublicKey(author.publicKey)));
  } catch {
    return null;
  }
}

/** Names as the room knows them now (a profile may have arrived after the message); undefined: keep the stored one. */
export type Names = (fingerprint: string) => string | undefined;

function eventView(event: DeepReadonly<RoomEvent> | null | undefined, names: Names): RoomEventView | null {
  if (!event) return null;
  const byName = names(event.by) ?? event.byName;
  if (event.type === 'settings') return { type: 'settings', settings: { ...event.settings }, byName };
  return { type: 'member', change: event.change, member: event.member, memberName: names(event.member) ?? event.memberName, by: event.by, byName };
}

export function toView(roomId: string, m: DeepReadonly<StoredMessage>, me: string, names: Names = () => undefined): MessageView {
  return {
    id: m.id,
    roomId,
    from: m.from,
    fromName: names(m.from) ?? m.fromName,
    text: m.text,
    ts: m.ts,
    mine: m.mine,
    status: m.status,
    failure: m.status === 'failed' && m.failure ? { ...m.failure } : null,
    seq: m.seq,
    kind: m.kind === 'event' ? 'event' : 'text',
    event: eventView(m.event, names),
    expiresAt: m.expiresAt ?? null,
    reply: m.reply ? { ...m.reply, fromName: names(m.reply.from) ?? m.reply.fromName } : null,
    reactions: reactionCounts(m.reactions, me),
    edited: m.editedAt !== undefined,
    deleted: m.deleted === true,
  };
}

/** Reactions grouped by emoji, in the order they were first chosen. */
function reactionCounts(reactions: DeepReadonly<StoredMessage['reactions']>, me: string): MessageView['reactions'] {
  const byEmoji = new Map<string, { emoji: string; count: number; mine: boolean; ts: number }>();
  for (const [who, { emoji, ts }] of Object.entries(reactions ?? {})) {
    const entry = byEmoji.get(emoji) ?? { emoji, count: 0, mine: false, ts };
    entry.count += 1;
    entry.mine ||= who === me;
    entry.ts = Math.min(entry.ts, ts);
    byEmoji.set(emoji, entry);
  }
  return [...byEmoji.values()].sort((a, b) => a.ts - b.ts).map(({ emoji, count, mine }) => ({ emoji, count, mine }));
}

/**
 * Tells the UI about a new or changed message (`updated`: an action changed one already shown), with the room's
 * summary after it (no separate state event: one per message is enough). Actions themselves are never shown.
 */
export function emitMessage(ctx: RoomContext, s: RoomSession, stored: StoredMessage, updated = false): void {
  if (stored.kind === 'action') return;
  const message = toView(s.id, stored, ctx.me.identity.fingerprint, (fp) => s.knownName(fp));
  ctx.emit({ type: 'message', roomId: s.id, message, room: summary(s), ...(updated ? { updated: true as const } : {}) });
}

/** The room list shows the newest message still held and not deleted (after a sweep, an edit or a delete). */
export async function refreshPreview(history: History, s: RoomSession): Promise<void> {
  const [newest] = await s.edit((record) => history.list(record, 1, undefined, (m) => m.kind === 'text' && !m.deleted));
  s.edit((record) => {
    record.lastText = newest ? newest.text.slice(0, PREVIEW_CHARS) : null;
    record.lastId = newest?.id;
  });
}
