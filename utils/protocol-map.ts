/**
 * The typed request/response map between the UI (side panel, popup) and the background worker,
 * and the events the background pushes to open UI pages over the `ui` port.
 */
import type { Role, RoomMode } from '@/shared/protocol';

export type Phase = 'onboard' | 'locked' | 'ready';

export interface MeView {
  fingerprint: string;
  name: string;
  /** What someone else pastes to invite us: the fingerprint in groups of four. */
  contactCode: string;
}

export interface RoomSummary {
  id: string;
  name: string;
  mode: RoomMode;
  unread: number;
  lastText: string | null;
  lastTs: number | null;
  /** True while the background holds an authenticated connection to the room. */
  connected: boolean;
  /** False until a key for the room has arrived (e.g. an invitation still being opened). */
  hasKey: boolean;
}

export interface MemberView {
  fingerprint: string;
  name: string;
  role: Role;
  online: boolean;
  me: boolean;
  contactCode: string;
}

export interface RoomDetail extends RoomSummary {
  members: MemberView[];
  myRole: Role;
  epoch: number;
}

export type MessageStatus = 'sending' | 'sent' | 'received';

export interface MessageView {
  id: string;
  roomId: string;
  from: string;
  fromName: string;
  text: string;
  ts: number;
  mine: boolean;
  status: MessageStatus;
}

export interface AppState {
  phase: Phase;
  me: MeView | null;
  host: string;
  rooms: RoomSummary[];
}

export interface ProtocolMap {
  getState: { req: void; res: AppState };
  onboard: { req: { name: string; passphrase: string; host?: string }; res: AppState };
  unlock: { req: { passphrase: string }; res: AppState };
  lock: { req: void; res: AppState };
  setHost: { req: { host: string }; res: AppState };
  createRoom: { req: { name: string; mode: RoomMode }; res: RoomSummary };
  getRoom: { req: { roomId: string }; res: RoomDetail };
  listMessages: { req: { roomId: string; limit?: number; beforeId?: string }; res: MessageView[] };
  sendMessage: { req: { roomId: string; text: string }; res: MessageView };
  inviteContact: { req: { roomId: string; code: string }; res: MemberView };
  markRead: { req: { roomId: string }; res: void };
}

export type RequestType = keyof ProtocolMap;
export type RequestOf<K extends RequestType> = ProtocolMap[K]['req'];
export type ResponseOf<K extends RequestType> = ProtocolMap[K]['res'];

/** Failure codes a user can see; the UI shows `t('error.<code>')`. */
export type UserErrorCode =
  | 'wrong-passphrase'
  | 'locked'
  | 'invalid-input'
  | 'contact-not-found'
  | 'contact-key-mismatch'
  | 'already-member'
  | 'not-admin'
  | 'no-room'
  | 'no-key'
  | 'offline'
  | 'server'
  | 'internal';

export interface UserError {
  code: UserErrorCode;
  /** English detail for logs and as a fallback. */
  message: string;
}

export type Result<T> = { ok: true; value: T } | { ok: false; error: UserError };

export interface RequestEnvelope<K extends RequestType = RequestType> {
  kind: 'partychat-request';
  type: K;
  data: RequestOf<K>;
}

/** Pushed from background to every open UI page. */
export type PushEvent =
  | { type: 'state' }
  | { type: 'room'; roomId: string }
  | { type: 'message'; roomId: string; message: MessageView };

export const UI_PORT_NAME = 'ui';
