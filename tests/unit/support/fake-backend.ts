/**
 * An in-memory stand-in for the background worker, speaking the same `Backend` interface as
 * `createExtensionBackend()`. Tests drive it directly (`receive`, `deliverPending`, `failNext`, `hold`)
 * and read what the UI asked for from `calls`.
 */
import type { RoomMode } from '@/shared/protocol';
import { BackendError, type Backend } from '@/utils/backend';
import type {
  AppState,
  MemberView,
  MessageView,
  Phase,
  PushEvent,
  RequestOf,
  RequestType,
  ResponseOf,
  RoomDetail,
  RoomSummary,
  UserErrorCode,
} from '@/utils/protocol-map';

/** The requests the fake answers; any other request fails with `internal` ("not faked"). */
type Handlers = { [K in RequestType]?: (data: RequestOf<K>) => ResponseOf<K> };

interface FakeRoom {
  summary: RoomSummary;
  members: MemberView[];
  myRole: 'admin' | 'member';
  messages: MessageView[];
}

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
    listMessages: ({ roomId, limit }) => this.room(roomId).messages.slice(-(limit ?? 50)),
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
      };
      room.members.push(member);
      return member;
    },
    markRead: ({ roomId }) => {
      const room = this.room(roomId);
      room.summary = { ...room.summary, unread: 0 };
    },
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
    const open: RequestType[] = ['getState', 'onboard', 'unlock', 'lock'];
    if (this.phase !== 'ready' && !open.includes(type)) this.fail('locked', 'the vault is locked');
    const handler: ((data: RequestOf<K>) => ResponseOf<K>) | undefined = this.handlers[type];
    if (!handler) this.fail('internal', `the fake backend does not answer ${type}`);
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
  addRoom(input: { name: string; mode?: RoomMode; myRole?: 'admin' | 'member'; hasKey?: boolean; others?: FakeContact[] }): FakeRoom {
    const room: FakeRoom = {
      summary: {
        id: fakeId(),
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
        },
        ...(input.others ?? []).map((other) => ({
          fingerprint: other.fingerprint,
          name: other.name,
          role: input.myRole === 'member' ? ('admin' as const) : ('member' as const),
          online: true,
          me: false,
          contactCode: contactCodeOf(other.fingerprint),
          verified: other.verified ?? true,
        })),
      ],
      messages: [],
    };
    this.rooms.push(room);
    return room;
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
    this.emit({ type: 'message', roomId, message });
    return message;
  }

  /** The server acknowledged every pending send: each comes back pushed with status `sent`. */
  deliverPending(): void {
    for (const message of this.pending.splice(0)) {
      const sent: MessageView = { ...message, status: 'sent' };
      const room = this.room(message.roomId);
      room.messages = room.messages.map((m) => (m.id === sent.id ? sent : m));
      this.emit({ type: 'message', roomId: message.roomId, message: sent });
    }
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
    return { ...room.summary, members: room.members, myRole: room.myRole, epoch: 0, joinRequests: [] };
  }

  private message(roomId: string, fields: Omit<MessageView, 'id' | 'roomId' | 'ts'>): MessageView {
    this.clock += 60_000;
    return { id: fakeId(), roomId, ts: this.clock, ...fields };
  }

  private fail(code: UserErrorCode, message: string): never {
    throw new BackendError({ code, message });
  }
}
