/** A real ChatService running in Node: memory storage, `ws` sockets through PartySocket, real fetch. */
import WebSocket from 'ws';
import { ChatService } from '@/services/chat';
import { importVaultKey, unseal } from '@/services/sealed';
import { readUnlockedPrivateKey, type PrivateKey } from '@/shared/crypto';
import { fromBase64 } from '@/shared/encoding';
import { partySocketFactory, type SocketFactory } from '@/services/connection';
import { memoryStore } from '@/services/store';
import type { PushEvent } from '@/utils/protocol-map';
import type { LocalItems, RoomRecord, SessionItems, StoredMessage } from '@/services/records';

export const nodeSocketFactory: SocketFactory = partySocketFactory({ WebSocket, minReconnectionDelay: 50, maxReconnectionDelay: 500 });

/** Wraps a socket factory so every frame a client sends (everything the server receives) is recorded. */
export function recordingFactory(inner: SocketFactory, frames: string[]): SocketFactory {
  return (target) => {
    const socket = inner(target);
    const send = socket.send.bind(socket);
    socket.send = (data: string) => {
      frames.push(data);
      send(data);
    };
    return socket;
  };
}

/** Wraps a socket factory so every socket opened is recorded as `<party>/<room>`. */
export function targetRecordingFactory(inner: SocketFactory, opened: string[]): SocketFactory {
  return (target) => {
    opened.push(`${target.party}/${target.room}`);
    return inner(target);
  };
}

export interface TestClient {
  chat: ChatService;
  local: ReturnType<typeof memoryStore<LocalItems>>;
  session: ReturnType<typeof memoryStore<SessionItems>>;
  events: PushEvent[];
  rejected: string[];
  /** Everything the client sent the server: each WebSocket frame, and each HTTP request body. */
  frames: string[];
  /** Every socket the client opened, as `<party>/<room>` (e.g. `main/<room id>`, `directory/<fingerprint>`). */
  opened: string[];
}

/** `openSocket` replaces the plain Node sockets underneath the recording (e.g. a fault test's sockets it can kill). */
export function createClient(host: string, options: { local?: TestClient['local']; session?: TestClient['session']; openSocket?: SocketFactory } = {}): TestClient {
  const local = options.local ?? memoryStore<LocalItems>();
  const session = options.session ?? memoryStore<SessionItems>();
  const events: PushEvent[] = [];
  const rejected: string[] = [];
  const frames: string[] = [];
  const opened: string[] = [];
  const chat = new ChatService({
    local,
    session,
    openSocket: targetRecordingFactory(recordingFactory(options.openSocket ?? nodeSocketFactory, frames), opened),
    fetch: (input, init) => {
      // A request body reaches the server too (the invitation POST): recorded with the frames.
      if (typeof init?.body === 'string') frames.push(init.body);
      return fetch(input, init);
    },
    defaultHost: host,
    emit: (e) => events.push(e),
    onRejected: (_room, reason) => rejected.push(reason),
    confirmTimeoutMs: 15_000,
  });
  return { chat, local, session, events, rejected, frames, opened };
}

/** A client on `server` with a fresh identity named `name` (passphrase derived from the name). */
export async function onboardedClient(server: string, name: string): Promise<TestClient> {
  const client = createClient(server);
  await client.chat.onboard(name, `${name} passphrase`);
  return client;
}

/** Alice's new room with Bob invited, both connected and holding the key: where most room tests start. */
export async function roomOfTwo(server: string, roomName: string, mode: 'ephemeral' | 'backup'): Promise<{ alice: TestClient; bob: TestClient; roomId: string }> {
  const [alice, bob] = await Promise.all([onboardedClient(server, 'Alice'), onboardedClient(server, 'Bob')]);
  const roomId = (await alice.chat.createRoom(roomName, mode)).id;
  await until(async () => (await alice.chat.getRoom(roomId)).connected, 'alice connected');
  await invite(alice, roomId, bob);
  await until(async () => (await bob.chat.getState()).rooms.find((r) => r.id === roomId && r.hasKey && r.connected), 'bob joined');
  return { alice, bob, roomId };
}

/**
 * `admin` invites `invitee` into the room by contact code, and the invitee takes the invitation: it shows as a
 * request when the admin is not yet a contact of theirs (accepted here), else the invitee joins by itself.
 * Resolves once the invitee lists the room.
 */
export async function invite(admin: TestClient, roomId: string, invitee: TestClient): Promise<void> {
  await admin.chat.inviteContact(roomId, (await invitee.chat.getState()).me?.contactCode ?? '');
  const state = await until(async () => {
    const s = await invitee.chat.getState();
    return s.rooms.some((r) => r.id === roomId) || s.invitations.some((i) => i.room === roomId) ? s : null;
  }, 'the invitation to arrive');
  if (!state.rooms.some((r) => r.id === roomId)) await invitee.chat.decideInvitation(roomId, 'accept');
}

/** A client's stored room record, opened with its vault key (what a test inspects, never the server). */
export async function storedRoom(client: TestClient, roomId: string): Promise<RoomRecord> {
  const session = await client.session.get('unlocked');
  if (!session) throw new Error('client is locked');
  const key = `room:${roomId}` as const;
  const sealed = await client.local.get(key);
  if (!sealed) throw new Error('room not stored');
  return unseal<RoomRecord>(await importVaultKey(fromBase64(session.vaultKey)), sealed, key);
}

/** Every message a client stores for a room, oldest page first, opened with its vault key (what a test counts, never the server). */
export async function storedMessages(client: TestClient, roomId: string): Promise<StoredMessage[]> {
  const session = await client.session.get('unlocked');
  if (!session) throw new Error('client is locked');
  const vaultKey = await importVaultKey(fromBase64(session.vaultKey));
  const out: StoredMessage[] = [];
  for (let index = 0; index < (await storedRoom(client, roomId)).pages; index++) {
    const key = `page:${roomId}:${index}` as const;
    const sealed = await client.local.get(key);
    if (sealed) out.push(...(await unseal<StoredMessage[]>(vaultKey, sealed, key)));
  }
  return out;
}

/** The room key (epoch 0) a client holds, once it is in storage (the write lands just after the in-memory state). */
export async function roomKeyOf(client: TestClient, roomId: string): Promise<Uint8Array> {
  return fromBase64(await until(async () => (await storedRoom(client, roomId)).keys['0'], 'the stored room key'));
}

/** A client's unlocked identity key, for tests that act as that client by hand. */
export async function identityKeyOf(client: TestClient): Promise<PrivateKey> {
  return readUnlockedPrivateKey((await client.session.get('unlocked'))?.privateKey ?? '');
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
