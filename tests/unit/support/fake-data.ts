/**
 * What the fake background holds per room, and the ids, fingerprints and contact codes it makes up.
 */
import { BackendError } from '@/utils/backend';
import type {
  JoinRequestView,
  LinkView,
  MemberView,
  MessageView,
  RoomDetail,
  RoomSettings,
  RoomSummary,
  UserErrorCode,
} from '@/utils/protocol-map';

export interface FakeRoom {
  summary: RoomSummary;
  members: MemberView[];
  myRole: 'admin' | 'member';
  /** A member an admin allowed to create links (admins always can). */
  canCreateLinks?: boolean;
  messages: MessageView[];
  links: LinkView[];
  joinRequests: JoinRequestView[];
  banned: string[];
  settings: RoomSettings;
  gaps: RoomDetail['gaps'];
  /** Backup rooms: older messages only the server still has, oldest first; `loadOlder` moves the newest page of them in. */
  serverOlder: MessageView[];
}

/** A person the fake directory knows, by contact code. */
export interface FakeContact {
  name: string;
  fingerprint: string;
  /** False for a member the server lists without an admin's signature (as a room member only). */
  verified?: boolean;
}

/** The message-action fields of a message nobody replied with, reacted to, edited or deleted. */
export const NO_ACTIONS: Pick<MessageView, 'reply' | 'reactions' | 'edited' | 'deleted'> = { reply: null, reactions: [], edited: false, deleted: false };

/** What `exportIdentity` produces in the fake: recognisable, and checked again by `importIdentity`. */
export const FAKE_EXPORT_PREFIX = '-----BEGIN PGP MESSAGE-----\nfake identity export for ';

/** A link as the fake prints it: `http://<host>/join/<room>/<link>#<secret>`. */
export const LINK_PATTERN = /^(https?):\/\/([^/\s]+)\/join\/([0-9a-f]{32})\/([0-9a-f]{32})#([A-Za-z0-9_-]{8,})$/;

let counter = 0;

/** A 32-character lowercase hex id, unique within the test run. */
export function fakeId(): string {
  counter += 1;
  return counter.toString(16).padStart(32, '0');
}

/** A 40-character fingerprint derived from a seed character, e.g. `fakeFingerprint('a')`. */
export function fakeFingerprint(seed: string): string {
  return seed.repeat(40).slice(0, 40);
}

/** The contact code the background shows for a fingerprint: groups of four, upper case. */
export function contactCodeOf(fingerprint: string): string {
  return (fingerprint.toUpperCase().match(/.{1,4}/g) ?? []).join(' ');
}

export function normalizeCode(code: string): string {
  return code.replace(/\s+/g, '').toLowerCase();
}

/** Fails a request the way the background does. */
export function failWith(code: UserErrorCode, message: string): never {
  throw new BackendError({ code, message });
}

/** The room's details as the background answers `getRoom` (join requests for admins only). */
export function detailOf(room: FakeRoom): RoomDetail {
  const joinRequests = room.myRole === 'admin' ? room.joinRequests : [];
  return {
    ...room.summary,
    members: room.members,
    myRole: room.myRole,
    epoch: 0,
    joinRequests,
    settings: room.settings,
    canCreateLinks: room.myRole === 'admin' || room.canCreateLinks === true,
    banned: room.banned.map((fingerprint) => ({ fingerprint, contactCode: contactCodeOf(fingerprint) })),
    gaps: room.gaps,
    keyWarnings: room.members.flatMap((m) => (m.keyWarning ? [{ fingerprint: m.fingerprint, name: m.name, ...m.keyWarning }] : [])),
  };
}
