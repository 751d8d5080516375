/**
 * Whether a pushed event deserves a browser notification, and what it may say. Pure: the background
 * (entrypoints/background.ts, services/extension-bridge.ts) shows what this returns.
 */
import { t } from '@/utils/i18n';
import type { PushEvent } from '@/utils/protocol-map';

export interface NotifyInput {
  event: PushEvent;
  /** The user's "show message text in notifications" setting (off by default). */
  previews: boolean;
  /** Whether an open UI page shows this room right now (visible and focused). */
  inView: (roomId: string) => boolean;
}

/** What a message notification says: sender and room, the text only when previews are on. */
export interface MessageNotice {
  roomId: string;
  roomName: string;
  senderName: string;
  /** Null unless the user turned previews on. */
  text: string | null;
}

export function messageNotice({ event, previews, inView }: NotifyInput): MessageNotice | null {
  if (event.type !== 'message' || event.updated) return null;
  const { message, room } = event;
  // Only someone else's typed message, as it arrives (not our own or its status changing, not a room event); pages of
  // older history load only while their room is in view.
  if (message.mine || message.kind !== 'text' || message.status !== 'received') return null;
  if (room.muted || room.removed) return null;
  if (inView(event.roomId)) return null;
  return { roomId: event.roomId, roomName: room.name, senderName: message.fromName, text: previews ? message.text : null };
}

/** A join request notifies the room's admins unless they muted the room (a muted room never notifies). */
export function notifiesJoinRequest(event: PushEvent, muted: (roomId: string) => boolean): event is Extract<PushEvent, { type: 'join-request' }> {
  return event.type === 'join-request' && !muted(event.roomId);
}

/** The notification's title and body in the UI language: the room in the title; the sender, and the text only if given. */
export function noticeText(notice: MessageNotice): { title: string; body: string } {
  const title = t('notify.messageTitle', { room: notice.roomName || t('join.unnamedRoom') });
  return { title, body: notice.text === null ? t('notify.messageBody', { name: notice.senderName }) : `${notice.senderName}: ${notice.text}` };
}
