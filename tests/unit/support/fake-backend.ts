/**
 * An in-memory stand-in for the background worker, speaking the same `Backend` interface as
 * `createExtensionBackend()`. Tests drive it directly (`receive`, `deliverPending`, `failNext`, `hold`,
 * `setJoinState`, `askToJoin`, `fillHistory`, `changeSettings`, `expire`) and read what the UI asked
 * for from `calls`.
 */
import { DEFAULT_SETTINGS } from '@/shared/membership';
import type { RoomMode } from '@/shared/protocol';
import { BackendError, type Backend } from '@/utils/backend';
import type {
  AppState,
  JoinRequestView,
  JoinState,
  LinkView,
  MemberView,
  IdentityExport,
  MessageView,
  Phase,
  PushEvent,
  RequestOf,
  RequestType,
  ResponseOf,
  RoomDetail,
  RoomSettings,
  RoomSummary,
  UserError,
  UserErrorCode,
} from '@/utils/protocol-map';

/** How the fake answers each request of the protocol map (the compiler asks for one per new request). */
type Handlers = { [K in RequestType]: (data: RequestOf<K>) => ResponseOf<K> };

interface FakeRoom {
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

/** What `exportIdentity` produces in the fake: recognisable, and checked again by `importIdentity`. */
export const FAKE_EXPORT_PREFIX = '-----BEGIN PGP MESSAGE-----\nfake identity export for ';

/** A link as the fake prints it: `http://<host>/join/<room>/<link>#<secret>`. */
const LINK_PATTERN = /^(https?):\/\/([^/\s]+)\/join\/([0-9a-f]{32})\/([0-9a-f]{32})#([A-Za-z0-9_-]{8,})$/;

/** A person the fake directory knows, by contact code. */
export interface FakeContact {
  name: string;
  fingerprint: string;
  /** False for a member the server lists without an admin's signature (as a room member only). */
  verified?: boolean;
}

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

function normalizeCode(code: string): string {
  return code.replace(/\s+/g, '').toLowerCase();
}

export class FakeBackend implements Backend {
  phase: Phase = 'onboard';
  host = 'localhost:1999';
  name = '';
  passphrase = '';
  readonly fingerprint = fakeFingerprint('a');
  readonly rooms: FakeRoom[] = [];
  /** Directory of published keys, by normalized contact code. */
  readonly contacts = new Map<string, FakeContact>();
  /** Every request the UI made, in order. */
  readonly calls: { type: RequestType; data: unknown }[] = [];
  /** Messages returned as `sending` and not yet confirmed by `deliverPending`. */
  readonly pending: MessageView[] = [];
  /** When true, a sent message is pushed as `sent` before the `sendMessage` reply is returned. */
  deliverBeforeReply = false;
  private readonly listeners = new Set<(event: PushEvent) => void>();
  private readonly failures = new Map<RequestType, { code: UserErrorCode; message: string }>();
  private readonly holds = new Map<RequestType, Promise<void>>();
  private clock = Date.UTC(2025, 0, 15, 9, 30);
  private seq = 0;
  /** How many messages one `loadOlder` brings from the server's backup. */
  serverPageSize = 100;

  private readonly handlers: Handlers = {
    getState: () => this.state(),
    onboard: ({ name, passphrase, host }) => {
      this.name = name;
      this.passphrase = passphrase;
      if (host) this.host = host;
      this.phase = 'ready';
      return this.state();
    },
    unlock: ({ passphrase }) => {
      if (passphrase !== this.passphrase) this.fail('wrong-passphrase', 'passphrase does not decrypt the key');
      this.phase = 'ready';
      return this.state();
    },
    lock: () => {
      this.phase = 'locked';
      return this.state();
    },
    setHost: ({ host }) => {
      if (!host.trim()) this.fail('invalid-input', 'host is empty');
      this.host = host.trim();
      return this.state();
    },
    createRoom: ({ name, mode }) => this.addRoom({ name, mode }).summary,
    getRoom: ({ roomId }) => this.detail(this.room(roomId)),
    listMessages: ({ roomId, limit, beforeId }) => {
      const messages = this.room(roomId).messages;
      const end = beforeId === undefined ? messages.length : messages.findIndex((m) => m.id === beforeId);
      if (end < 0) return [];
      return messages.slice(Math.max(0, end - (limit ?? 100)), end);
    },
    sendMessage: ({ roomId, text }) => {
      const room = this.room(roomId);
      if (!room.summary.hasKey) this.fail('no-key', 'no key for this room yet');
      const message = this.message(roomId, { from: this.fingerprint, fromName: this.name, text, mine: true, status: 'sending' });
      room.messages.push(message);
      room.summary = { ...room.summary, lastText: text, lastTs: message.ts };
      this.pending.push(message);
      if (this.deliverBeforeReply) this.deliverPending();
      return message;
    },
    inviteContact: ({ roomId, code }) => {
      const room = this.room(roomId);
      if (room.myRole !== 'admin') this.fail('not-admin', 'only admins invite');
      const contact = this.contacts.get(normalizeCode(code));
      if (!contact) this.fail('contact-not-found', 'no published key for that code');
      if (room.members.some((m) => m.fingerprint === contact.fingerprint)) this.fail('already-member', 'already a member');
      const member: MemberView = {
        fingerprint: contact.fingerprint,
        name: contact.name,
        role: 'member',
        online: false,
        me: false,
        contactCode: contactCodeOf(contact.fingerprint),
        verified: true,
        canCreateLinks: false,
      };
      room.members.push(member);
      return member;
    },
    markRead: ({ roomId }) => {
      const room = this.room(roomId);
      room.summary = { ...room.summary, unread: 0 };
    },
    createLink: ({ roomId, options }) => {
      const room = this.room(roomId);
      if (room.myRole !== 'admin' && !room.canCreateLinks) this.fail('not-admin', 'only admins and members they allowed create links');
      if (options.approval && options.escrow) this.fail('escrow-with-approval', 'approval links cannot escrow the key');
      if (options.maxUses !== null && (!Number.isInteger(options.maxUses) || options.maxUses < 1)) this.fail('invalid-input', 'bad use limit');
      const id = fakeId();
      const link: LinkView = {
        id,
        url: `http://${this.host}/join/${roomId}/${id}#${'s'.repeat(43)}`,
        label: options.label || null,
        approval: options.approval,
        escrow: options.escrow,
        expires: options.expiresInMs === null ? null : this.now + options.expiresInMs,
        maxUses: options.maxUses,
        uses: 0,
        active: true,
        createdBy: this.name,
        createdAt: this.tick(),
      };
      room.links.unshift(link);
      return link;
    },
    listLinks: ({ roomId }) => this.adminRoom(roomId).links,
    revokeLink: ({ roomId, linkId }) => {
      const room = this.adminRoom(roomId);
      const link = room.links.find((l) => l.id === linkId);
      if (!link?.active) this.fail('link-invalid', 'this link is not active');
      link.active = false;
      return room.links;
    },
    resetLinks: ({ roomId }) => {
      const room = this.adminRoom(roomId);
      for (const link of room.links) link.active = false;
      return room.links;
    },
    joinByLink: ({ url }) => {
      const match = LINK_PATTERN.exec(url.trim());
      if (!match) this.fail('not-a-link', 'not an invite link');
      const [, , host, roomId] = match as unknown as [string, string, string, string];
      if (host !== this.host) this.fail('other-server', `the link is for ${host}`);
      const existing = this.rooms.find((r) => r.summary.id === roomId);
      if (existing?.summary.hasKey) return existing.summary;
      const room = existing ?? this.addRoom({ id: roomId, name: '', myRole: 'member', hasKey: false });
      room.summary = { ...room.summary, joinState: 'joining', joinError: null };
      return room.summary;
    },
    setRoomSettings: ({ roomId, settings }) => this.adminChange(roomId, () => void this.changeSettings(roomId, settings, this.name)),
    setLinkPermission: ({ roomId, fingerprint, allowed }) =>
      this.adminChange(roomId, (room) => {
        const member = room.members.find((m) => m.fingerprint === fingerprint && !m.me);
        if (!member) this.fail('invalid-input', 'not a member');
        member.canCreateLinks = allowed;
      }),
    unban: ({ roomId, fingerprint }) => this.adminChange(roomId, (room) => (room.banned = room.banned.filter((f) => f !== fingerprint))),
    removeMember: ({ roomId, fingerprint }) =>
      this.adminChange(roomId, (room) => (room.members = room.members.filter((m) => m.me || m.fingerprint !== fingerprint))),
    loadOlder: ({ roomId }) => {
      const room = this.room(roomId);
      if (room.summary.mode !== 'backup') return 0;
      const page = room.serverOlder.splice(Math.max(0, room.serverOlder.length - this.serverPageSize));
      // Like the background: stored as the newest entries, and pushed one by one.
      room.messages.push(...page);
      for (const message of page) this.emit({ type: 'message', roomId, message, room: room.summary });
      return page.length;
    },
    exportIdentity: ({ passphrase }) => {
      if (passphrase !== this.passphrase) this.fail('wrong-passphrase', 'enter the passphrase of this identity to export it');
      const safeName = this.name.replace(/[^\p{L}\p{N}_-]+/gu, '-') || 'identity';
      const file: IdentityExport = { fileName: `partychat-${safeName}.asc`, content: `${FAKE_EXPORT_PREFIX}${this.name}:${this.passphrase}\n-----END PGP MESSAGE-----` };
      return file;
    },
    importIdentity: ({ content, passphrase, host }) => {
      if (this.phase !== 'onboard') this.fail('invalid-input', 'an identity already exists in this browser');
      const match = /fake identity export for (.+):(.+)\n/.exec(content);
      if (!match || match[2] !== passphrase) this.fail('bad-import', 'the file could not be opened');
      this.name = match[1] as string;
      this.passphrase = passphrase;
      if (host) this.host = host;
      this.phase = 'ready';
      return this.state();
    },
    forgetRoom: ({ roomId }) => {
      const room = this.room(roomId);
      if (room.summary.hasKey && !room.summary.removed) this.fail('invalid-input', 'leave the room first');
      return this.dropRoom(room);
    },
    leaveRoom: ({ roomId }) => this.dropRoom(this.room(roomId)),
    approveRequest: ({ roomId, fingerprint }) => this.decide(roomId, fingerprint, 'approve'),
    denyRequest: ({ roomId, fingerprint }) => this.decide(roomId, fingerprint, 'deny'),
    banRequester: ({ roomId, fingerprint }) => this.decide(roomId, fingerprint, 'ban'),
  };

  async request<K extends RequestType>(type: K, data: RequestOf<K>): Promise<ResponseOf<K>> {
    this.calls.push({ type, data });
    await Promise.resolve();
    await this.holds.get(type);
    const failure = this.failures.get(type);
    if (failure) {
      this.failures.delete(type);
      throw new BackendError(failure);
    }
    const open: RequestType[] = ['getState', 'onboard', 'unlock', 'lock', 'importIdentity'];
    if (this.phase !== 'ready' && !open.includes(type)) this.fail('locked', 'the vault is locked');
    const handler: (data: RequestOf<K>) => ResponseOf<K> = this.handlers[type];
    return structuredClone(handler(data));
  }

  subscribe(listener: (event: PushEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** How many UI pages are listening to pushed events. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /** Pushes an event to every subscribed UI page. */
  emit(event: PushEvent): void {
    for (const listener of this.listeners) listener(structuredClone(event));
  }

  /** The room's connection comes up or goes down, as the background tells the UI (a `room` event). */
  setConnected(roomId: string, connected: boolean): void {
    this.room(roomId).summary.connected = connected;
    this.emit({ type: 'room', roomId });
  }

  /** Makes the next request of `type` fail with `code`. */
  failNext(type: RequestType, code: UserErrorCode, message = `fake ${code}`): void {
    this.failures.set(type, { code, message });
  }

  /** Holds every request of `type` until the returned function is called (to observe busy states). */
  hold(type: RequestType): () => void {
    let release = () => {};
    this.holds.set(
      type,
      new Promise<void>((resolve) => {
        release = () => {
          this.holds.delete(type);
          resolve();
        };
      }),
    );
    return release;
  }

  /** Puts the fake in the `ready` phase with an identity, as after onboarding. */
  setUp(options: { name?: string; passphrase?: string; phase?: Phase } = {}): this {
    this.name = options.name ?? 'Alice';
    this.passphrase = options.passphrase ?? 'correct horse';
    this.phase = options.phase ?? 'ready';
    return this;
  }

  /** Adds a room the user is in; `myRole` defaults to admin. */
  addRoom(input: { id?: string; name: string; mode?: RoomMode; myRole?: 'admin' | 'member'; hasKey?: boolean; others?: FakeContact[] }): FakeRoom {
    const room: FakeRoom = {
      summary: {
        id: input.id ?? fakeId(),
        name: input.name,
        mode: input.mode ?? 'ephemeral',
        unread: 0,
        lastText: null,
        lastTs: null,
        connected: true,
        hasKey: input.hasKey ?? true,
        joinState: null,
        joinError: null,
        requests: 0,
        missing: 0,
        removed: false,
      },
      myRole: input.myRole ?? 'admin',
      members: [
        {
          fingerprint: this.fingerprint,
          name: this.name,
          role: input.myRole ?? 'admin',
          online: true,
          me: true,
          contactCode: contactCodeOf(this.fingerprint),
          verified: true,
          canCreateLinks: (input.myRole ?? 'admin') === 'admin',
        },
        ...(input.others ?? []).map((other) => ({
          fingerprint: other.fingerprint,
          name: other.name,
          role: input.myRole === 'member' ? ('admin' as const) : ('member' as const),
          online: true,
          me: false,
          contactCode: contactCodeOf(other.fingerprint),
          verified: other.verified ?? true,
          canCreateLinks: input.myRole === 'member',
        })),
      ],
      messages: [],
      links: [],
      joinRequests: [],
      banned: [],
      settings: { ...DEFAULT_SETTINGS },
      gaps: [],
      serverOlder: [],
    };
    this.rooms.push(room);
    return room;
  }

  /**
   * Moves a room joined through a link to the next join state, as the background reports it: the
   * room name and key arrive with `null` (in), `failed` carries the error. Pushes a `state` event.
   */
  setJoinState(roomId: string, state: JoinState | null, error: UserError | null = null, name = 'Joined room'): void {
    const room = this.room(roomId);
    const inside = state === null;
    room.summary = {
      ...room.summary,
      joinState: state,
      joinError: state === 'failed' ? error : null,
      hasKey: inside ? true : room.summary.hasKey,
      name: inside && !room.summary.name ? name : room.summary.name,
    };
    this.emit({ type: 'state' });
  }

  /** Someone asks to join through an approval link: the admin's room lists the request and a `join-request` event is pushed. */
  askToJoin(roomId: string, input: { name: string; fingerprint: string; linkLabel?: string | null }): JoinRequestView {
    const room = this.room(roomId);
    const request: JoinRequestView = {
      fingerprint: input.fingerprint,
      name: input.name,
      contactCode: contactCodeOf(input.fingerprint),
      linkLabel: input.linkLabel ?? null,
      ts: this.tick(),
    };
    room.joinRequests.push(request);
    room.summary = { ...room.summary, requests: room.joinRequests.length };
    this.emit({ type: 'join-request', roomId, roomName: room.summary.name, name: input.name });
    return request;
  }

  /** Adds a link as if made earlier (e.g. in another browser: then `url` is null). */
  addLink(roomId: string, fields: Partial<LinkView> = {}): LinkView {
    const link: LinkView = {
      id: fakeId(),
      url: null,
      label: null,
      approval: false,
      escrow: false,
      expires: null,
      maxUses: null,
      uses: 0,
      active: true,
      createdBy: this.name,
      createdAt: this.tick(),
      ...fields,
    };
    this.room(roomId).links.push(link);
    return link;
  }

  /** The fake's clock, which every new message and link advances by a minute. */
  get now(): number {
    return this.clock;
  }

  /** Publishes a contact in the fake directory and returns its contact code. */
  addContact(contact: FakeContact): string {
    const code = contactCodeOf(contact.fingerprint);
    this.contacts.set(normalizeCode(code), contact);
    return code;
  }

  /** Another member's message arrives: stored, counted unread, and pushed. */
  receive(roomId: string, input: { fromName: string; text: string; from?: string }): MessageView {
    const room = this.room(roomId);
    const message = this.message(roomId, {
      from: input.from ?? fakeFingerprint('b'),
      fromName: input.fromName,
      text: input.text,
      mine: false,
      status: 'received',
    });
    room.messages.push(message);
    room.summary = { ...room.summary, unread: room.summary.unread + 1, lastText: input.text, lastTs: message.ts };
    this.emit({ type: 'message', roomId, message, room: room.summary });
    return message;
  }

  /** The server acknowledged every pending send: each comes back pushed with status `sent`. */
  deliverPending(): void {
    for (const message of this.pending.splice(0)) {
      const sent: MessageView = { ...message, status: 'sent', seq: this.nextSeq() };
      const room = this.room(message.roomId);
      room.messages = room.messages.map((m) => (m.id === sent.id ? sent : m));
      this.emit({ type: 'message', roomId: message.roomId, message: sent, room: room.summary });
    }
  }

  /**
   * Fills a room's history with `count` messages from Bob (oldest first), without pushes; with
   * `onServer`, that many more older ones exist only in the server's backup (for `loadOlder`).
   */
  fillHistory(roomId: string, count: number, options: { onServer?: number } = {}): void {
    const room = this.room(roomId);
    const make = (i: number): MessageView => ({
      id: fakeId(),
      roomId,
      from: fakeFingerprint('b'),
      fromName: 'Bob',
      text: `message ${i}`,
      ts: this.tick(),
      seq: this.nextSeq(),
      mine: false,
      status: 'received',
      kind: 'text',
      event: null,
      expiresAt: null,
    });
    const onServer = options.onServer ?? 0;
    const all = Array.from({ length: onServer + count }, (_, i) => make(i + 1));
    room.serverOlder.push(...all.slice(0, onServer));
    room.messages.push(...all.slice(onServer));
  }

  /** An admin changed the room's settings: stored, and shown in the chat as an event (pushed). */
  changeSettings(roomId: string, settings: RoomSettings, byName: string): MessageView {
    const room = this.room(roomId);
    room.settings = { ...settings };
    const event: MessageView = {
      id: fakeId(),
      roomId,
      from: byName === this.name ? this.fingerprint : fakeFingerprint('b'),
      fromName: byName,
      text: '',
      ts: this.tick(),
      seq: null,
      mine: byName === this.name,
      status: 'received',
      kind: 'event',
      event: { type: 'settings', settings: { ...settings }, byName },
      expiresAt: null,
    };
    room.messages.push(event);
    this.emit({ type: 'message', roomId, message: event, room: room.summary });
    this.emit({ type: 'room', roomId });
    return event;
  }

  /** Messages whose timer ran out are deleted and an `expired` event is pushed. */
  expire(roomId: string, ids: string[]): void {
    const room = this.room(roomId);
    room.messages = room.messages.filter((m) => !ids.includes(m.id));
    this.emit({ type: 'expired', roomId, ids });
  }

  /** Requests of `type` made so far. */
  callsOf(type: RequestType): unknown[] {
    return this.calls.filter((c) => c.type === type).map((c) => c.data);
  }

  room(roomId: string): FakeRoom {
    const room = this.rooms.find((r) => r.summary.id === roomId);
    if (!room) this.fail('no-room', `no room ${roomId}`);
    return room;
  }

  private state(): AppState {
    const ready = this.phase === 'ready';
    return {
      phase: this.phase,
      me: ready ? { fingerprint: this.fingerprint, name: this.name, contactCode: contactCodeOf(this.fingerprint) } : null,
      host: this.host,
      rooms: ready ? this.rooms.map((r) => r.summary) : [],
    };
  }

  private detail(room: FakeRoom): RoomDetail {
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
    };
  }

  private adminRoom(roomId: string): FakeRoom {
    const room = this.room(roomId);
    if (room.myRole !== 'admin') this.fail('not-admin', 'only admins manage links and requests');
    return room;
  }

  /** An admin changes a room (`change` may fail): answers with the room's details, as the background does. */
  private adminChange(roomId: string, change: (room: FakeRoom) => unknown): RoomDetail {
    const room = this.adminRoom(roomId);
    change(room);
    return this.detail(room);
  }

  /** The room is gone from this browser (left or forgotten): answers with the new state. */
  private dropRoom(room: FakeRoom): AppState {
    this.rooms.splice(this.rooms.indexOf(room), 1);
    return this.state();
  }

  private decide(roomId: string, fingerprint: string, decision: 'approve' | 'deny' | 'ban'): RoomDetail {
    return this.adminChange(roomId, (room) => this.applyDecision(room, fingerprint, decision));
  }

  private applyDecision(room: FakeRoom, fingerprint: string, decision: 'approve' | 'deny' | 'ban'): void {
    const request = room.joinRequests.find((r) => r.fingerprint === fingerprint);
    if (!request) this.fail('no-room', 'this request is no longer pending');
    room.joinRequests = room.joinRequests.filter((r) => r !== request);
    room.summary = { ...room.summary, requests: room.joinRequests.length };
    if (decision === 'ban') room.banned.push(fingerprint);
    if (decision === 'approve') {
      room.members.push({
        fingerprint,
        name: request.name,
        role: 'member',
        online: true,
        me: false,
        contactCode: request.contactCode,
        verified: true,
        canCreateLinks: false,
      });
    }
  }

  private tick(): number {
    this.clock += 60_000;
    return this.clock;
  }

  private message(roomId: string, fields: Pick<MessageView, 'from' | 'fromName' | 'text' | 'mine' | 'status'>): MessageView {
    const seq = fields.status === 'sending' ? null : this.nextSeq();
    return { id: fakeId(), roomId, ts: this.tick(), seq, kind: 'text', event: null, expiresAt: this.expiryFor(roomId), ...fields };
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  private expiryFor(roomId: string): number | null {
    const ms = this.room(roomId).settings.disappearMs;
    return ms === null ? null : this.clock + 60_000 + ms;
  }

  private fail(code: UserErrorCode, message: string): never {
    throw new BackendError({ code, message });
  }
}
