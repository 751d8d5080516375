/**
 * An in-memory stand-in for the background worker, speaking the same `Backend` interface as
 * `createExtensionBackend()`. Tests drive it directly (`receive`, `deliverPending`, `failNext`, `hold`,
 * `setJoinState`, `askToJoin`, `fillHistory`, `changeSettings`, `expire`) and read what the UI asked
 * for from `calls`. What each request does is in `fake-handlers.ts`; room records and ids in `fake-data.ts`.
 */
import { DEFAULT_SETTINGS } from '@/shared/membership';
import type { RoomMode } from '@/shared/protocol';
import { BackendError, type Backend } from '@/utils/backend';
import type {
  AppState,
  JoinRequestView,
  JoinState,
  LinkView,
  MessageView,
  Phase,
  PushEvent,
  RequestOf,
  RequestType,
  ResponseOf,
  InvitationView,
  LinkPreviewView,
  MemberChange,
  RoomSettings,
  UserError,
  UserErrorCode,
} from '@/utils/protocol-map';
import { contactCodeOf, failWith, fakeFingerprint, fakeId, NO_ACTIONS, normalizeCode, type FakeContact, type FakeRoom } from './fake-data';
import { fakeHandlers } from './fake-handlers';

export { contactCodeOf, FAKE_EXPORT_PREFIX, fakeFingerprint, fakeId, type FakeContact, type FakeRoom } from './fake-data';

export class FakeBackend implements Backend {
  phase: Phase = 'onboard';
  host = 'localhost:1999';
  notificationPreviews = false;
  /** Invitations from non-contacts waiting for an answer (add some to show them). */
  invitations: InvitationView[] = [];
  /** An invite link opened in a tab, waiting for the person's answer. */
  capturedLink: string | null = null;
  /** What `previewLink` answers for a link (by default a sealed preview of a room named after nothing). */
  linkPreview: Partial<LinkPreviewView> = {};
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
  private readonly replyHolds = new Map<RequestType, Promise<void>>();
  private clock = Date.UTC(2025, 0, 15, 9, 30);
  private seq = 0;
  /** How many messages one `loadOlder` brings from the server's backup. */
  serverPageSize = 100;

  private readonly handlers = fakeHandlers(this);

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
    if (this.phase !== 'ready' && !open.includes(type)) failWith('locked', 'the vault is locked');
    const handler: (data: RequestOf<K>) => ResponseOf<K> = this.handlers[type];
    const reply = structuredClone(handler(data));
    await this.replyHolds.get(type);
    return reply;
  }

  /** What the page said it shows, in order (`setViewing`). */
  readonly viewing: Array<string | null> = [];

  setViewing(roomId: string | null): void {
    this.viewing.push(roomId);
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
    return gate(this.holds, type);
  }

  /**
   * Lets requests of `type` do their work (and push their events) but holds their answers until the
   * returned function is called: the background has finished, the page has not heard back yet.
   */
  holdReply(type: RequestType): () => void {
    return gate(this.replyHolds, type);
  }

  /**
   * An admin removed us from a room, as the background then reports it: still listed and readable,
   * marked `removed`, no key for the new epoch, disconnected (pushes `room` and `state`).
   */
  removeMe(roomId: string): void {
    const room = this.room(roomId);
    room.summary = { ...room.summary, removed: true, hasKey: false, connected: false };
    room.members = room.members.filter((m) => !m.me);
    this.emit({ type: 'room', roomId });
    this.emit({ type: 'state' });
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
        backupFull: false,
        muted: false,
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
          creator: (input.myRole ?? 'admin') === 'admin',
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
          creator: false,
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
      ...NO_ACTIONS,
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
      ...NO_ACTIONS,
    };
    room.messages.push(event);
    this.emit({ type: 'message', roomId, message: event, room: room.summary });
    this.emit({ type: 'room', roomId });
    return event;
  }

  /** A membership change (join, add, approval, removal, leave, link permission): stored, and shown in the chat as an event (pushed). */
  changeMembership(roomId: string, change: MemberChange, member: { fingerprint: string; name: string }, by: { fingerprint: string; name: string }): MessageView {
    const room = this.room(roomId);
    const event: MessageView = {
      id: fakeId(),
      roomId,
      from: by.fingerprint,
      fromName: by.name,
      text: '',
      ts: this.tick(),
      seq: null,
      mine: by.fingerprint === this.fingerprint,
      status: 'received',
      kind: 'event',
      event: { type: 'member', change, member: member.fingerprint, memberName: member.name, by: by.fingerprint, byName: by.name },
      expiresAt: null,
      ...NO_ACTIONS,
    };
    room.messages.push(event);
    this.emit({ type: 'message', roomId, message: event, room: room.summary });
    this.emit({ type: 'room', roomId });
    return event;
  }

  /** A message changed by a reaction, edit or delete (ours, or `receive`d from someone else): stored and pushed as updated. */
  changeMessage(roomId: string, messageId: string, change: (message: MessageView) => Partial<MessageView>): MessageView {
    const room = this.room(roomId);
    const held = room.messages.find((m) => m.id === messageId);
    if (!held) failWith('invalid-input', 'that message is not here any more');
    const changed = { ...held, ...change(held) };
    room.messages = room.messages.map((m) => (m.id === messageId ? changed : m));
    this.emit({ type: 'message', roomId, message: changed, room: room.summary, updated: true });
    return changed;
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
    if (!room) failWith('no-room', `no room ${roomId}`);
    return room;
  }

  /** The state as `getState` answers it. */
  state(): AppState {
    const ready = this.phase === 'ready';
    return {
      phase: this.phase,
      me: ready ? { fingerprint: this.fingerprint, name: this.name, contactCode: contactCodeOf(this.fingerprint) } : null,
      host: this.host,
      rooms: ready ? this.rooms.map((r) => r.summary) : [],
      notificationPreviews: this.notificationPreviews,
      invitations: ready ? this.invitations : [],
      capturedLink: this.capturedLink,
    };
  }

  /** Advances the fake's clock by a minute and returns it. */
  tick(): number {
    this.clock += 60_000;
    return this.clock;
  }

  /** A new text message in a room (numbered unless still sending; with the room's disappearing timer). */
  message(roomId: string, fields: Pick<MessageView, 'from' | 'fromName' | 'text' | 'mine' | 'status'>): MessageView {
    const seq = fields.status === 'sending' ? null : this.nextSeq();
    return { id: fakeId(), roomId, ts: this.tick(), seq, kind: 'text', event: null, expiresAt: this.expiryFor(roomId), ...NO_ACTIONS, ...fields };
  }

  private nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  private expiryFor(roomId: string): number | null {
    const ms = this.room(roomId).settings.disappearMs;
    return ms === null ? null : this.clock + 60_000 + ms;
  }
}

/** Closes a gate for `type` in `gates` (requests wait on it); the returned function opens it again. */
function gate(gates: Map<RequestType, Promise<void>>, type: RequestType): () => void {
  let release = () => {};
  gates.set(
    type,
    new Promise<void>((resolve) => {
      release = () => {
        gates.delete(type);
        resolve();
      };
    }),
  );
  return release;
}
