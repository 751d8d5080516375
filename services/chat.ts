/**
 * The messenger's core, run by the background worker (and by Node clients in tests): identity,
 * rooms, room keys, the signed membership chain, sending and verifying messages, local history.
 * Every dependency (storage, sockets, fetch, clock, UI push) comes in through `ChatDeps`.
 */
import {
  AUTH_CONTEXT,
  MAX_NAME_CHARS,
  MAX_ROOM_NAME_CHARS,
  MAX_TEXT_CHARS,
  MESSAGE_ID_BYTES,
  PARTY_DIRECTORY,
  PARTY_ROOM,
  ROOM_ID_BYTES,
} from '@/shared/constants';
import {
  CryptoError,
  formatContactCode,
  generateGek,
  openKeyEnvelope,
  openWithGek,
  parseContactCode,
  readPublicKey,
  sealKeyEnvelope,
  sealWithGek,
  signDetached,
  type PrivateKey,
} from '@/shared/crypto';
import { fromBase64, fromUtf8, randomHex, toBase64, utf8 } from '@/shared/encoding';
import { applyRecord, createAddRecord, createGenesis, verifyChain, type Roster } from '@/shared/membership';
import { parsePayload, roomKeyPayloadSchema, textPayloadSchema, type RoomKeyPayload, type TextPayload } from '@/shared/payloads';
import {
  authChallengeText,
  directoryServerFrameSchema,
  roomServerFrameSchema,
  type DeliveredKey,
  type DirectoryServerFrame,
  type ErrorFrame,
  type RelayedMessage,
  type RoomMode,
  type RoomServerFrame,
  type SignedRecord,
} from '@/shared/protocol';
import type { AppState, MemberView, MessageView, PushEvent, RoomDetail, RoomSummary } from '@/utils/protocol-map';
import type { LocalItems, RoomRecord, SessionItems, StoredMessage } from '@/utils/storage-items';
import { PartyConnection, type SocketFactory } from './connection';
import { UserFacingError } from './errors';
import { History } from './history';
import { formatHost, httpUrl, parseHost, type PartyHost } from './host';
import { seal, unseal } from './sealed';
import type { KeyValueStore } from './store';
import { Vault, type Unlocked } from './vault';

export interface ChatDeps {
  local: KeyValueStore<LocalItems>;
  session: KeyValueStore<SessionItems>;
  openSocket: SocketFactory;
  fetch: typeof fetch;
  /** Server address used until the person picks another. */
  defaultHost: string;
  now?: () => number;
  /** Pushes an event to every open UI page. */
  emit?: (event: PushEvent) => void;
  /** Shown when something arrives that fails verification (tests and logs). */
  onRejected?: (roomId: string, reason: string) => void;
  /** How long to wait for the server to confirm a change. */
  confirmTimeoutMs?: number;
}

interface PendingChange {
  resolve(): void;
  reject(error: Error): void;
}

interface RoomRuntime {
  record: RoomRecord;
  /** The membership proven by the verified chain; null until verified. */
  roster: Roster | null;
  conn: PartyConnection<RoomServerFrame> | null;
  online: Set<string>;
  /** Serialises every change to this room's record. */
  queue: Promise<unknown>;
  /** Member-add records we sent, by record body, awaiting the server's chain broadcast. */
  pending: Map<string, PendingChange>;
}

type RoomKey = `room:${string}`;

/** How long onboarding waits for the server to accept our published key before returning anyway. */
const PUBLISH_WAIT_MS = 5_000;

export class ChatService {
  private readonly vault: Vault;
  private readonly now: () => number;
  private me: Unlocked | null = null;
  private history: History | null = null;
  private host: PartyHost;
  private readonly rooms = new Map<string, RoomRuntime>();
  private directory: PartyConnection<DirectoryServerFrame> | null = null;
  private started: Promise<void> | null = null;

  constructor(private readonly deps: ChatDeps) {
    this.vault = new Vault(deps.local, deps.session);
    this.now = deps.now ?? Date.now;
    this.host = parseHost(deps.defaultHost) ?? { host: deps.defaultHost, secure: false };
  }

  /** Restores settings and, if the session is still unlocked (worker restart), reconnects everything. Idempotent. */
  start(): Promise<void> {
    this.started ??= (async () => {
      const settings = await this.deps.local.get('settings');
      if (settings) this.host = parseHost(settings.host) ?? this.host;
      const unlocked = await this.vault.resume();
      if (unlocked) await this.open(unlocked);
    })();
    return this.started;
  }

  /** Re-establishes connections that died (called from the keep-alive alarm). */
  async ensureConnected(): Promise<void> {
    await this.start();
    if (!this.me) return;
    if (!this.directory || this.directory.status === 'closed') this.connectDirectory();
    for (const rt of this.rooms.values()) if (!rt.conn || rt.conn.status === 'closed') this.connectRoom(rt);
  }

  get fingerprint(): string | null {
    return this.me?.identity.fingerprint ?? null;
  }

  async getState(): Promise<AppState> {
    await this.start();
    const identity = await this.vault.identity();
    const phase = !identity ? 'onboard' : this.me ? 'ready' : 'locked';
    return {
      phase,
      me: identity && this.me ? { fingerprint: identity.fingerprint, name: identity.name, contactCode: formatContactCode(identity.fingerprint) } : null,
      host: formatHost(this.host),
      rooms: this.me ? this.summaries() : [],
    };
  }

  async onboard(name: string, passphrase: string, host?: string): Promise<AppState> {
    await this.start();
    if (await this.vault.identity()) throw new UserFacingError('invalid-input', 'an identity already exists in this browser');
    const cleanName = name.trim();
    if (!cleanName || cleanName.length > MAX_NAME_CHARS) throw new UserFacingError('invalid-input', `name must be 1–${MAX_NAME_CHARS} characters`);
    if (passphrase.length < 8) throw new UserFacingError('invalid-input', 'passphrase must be at least 8 characters');
    if (host !== undefined) await this.saveHost(host);
    await this.open(await this.vault.create(cleanName, passphrase, this.now()));
    // Publishing our key lets others invite us right away; offline, it happens on the next connection.
    await this.directory?.whenReady(PUBLISH_WAIT_MS);
    return this.getState();
  }

  async unlock(passphrase: string): Promise<AppState> {
    await this.start();
    if (!(await this.vault.identity())) throw new UserFacingError('invalid-input', 'create an identity first');
    if (this.me) return this.getState();
    try {
      await this.open(await this.vault.unlock(passphrase));
    } catch (error) {
      if (error instanceof CryptoError && error.code === 'wrong-passphrase') throw new UserFacingError('wrong-passphrase', error.message);
      throw error;
    }
    return this.getState();
  }

  async lock(): Promise<AppState> {
    this.closeAll();
    this.me = null;
    this.history = null;
    this.rooms.clear();
    await this.vault.lock();
    this.emit({ type: 'state' });
    return this.getState();
  }

  async setHost(input: string): Promise<AppState> {
    await this.saveHost(input);
    if (this.me) {
      this.closeAll();
      this.connectDirectory();
      for (const rt of this.rooms.values()) this.connectRoom(rt);
    }
    this.emit({ type: 'state' });
    return this.getState();
  }

  async createRoom(name: string, mode: RoomMode): Promise<RoomSummary> {
    const me = this.requireUnlocked();
    const cleanName = name.trim();
    if (!cleanName || cleanName.length > MAX_ROOM_NAME_CHARS) {
      throw new UserFacingError('invalid-input', `room name must be 1–${MAX_ROOM_NAME_CHARS} characters`);
    }
    const id = randomHex(ROOM_ID_BYTES);
    const genesis = await createGenesis(id, mode, me.privateKey, this.now());
    const record: RoomRecord = {
      ...emptyRoom(id, mode, this.now()),
      name: cleanName,
      keys: { '0': toBase64(generateGek()) },
      chain: [genesis],
      pendingGenesis: genesis,
    };
    const rt = this.addRuntime(record);
    rt.roster = await verifyChain(id, record.chain);
    await this.saveRoom(rt);
    await this.saveIndex();
    this.connectRoom(rt);
    this.emit({ type: 'state' });
    return this.summary(rt);
  }

  async getRoom(roomId: string): Promise<RoomDetail> {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    const roster = rt.roster;
    const members: MemberView[] = roster
      ? [...roster.members.values()].map((m) => ({
          fingerprint: m.fingerprint,
          name: m.name,
          role: m.role,
          online: rt.online.has(m.fingerprint),
          me: m.fingerprint === me.identity.fingerprint,
          contactCode: formatContactCode(m.fingerprint),
        }))
      : [];
    return {
      ...this.summary(rt),
      members,
      myRole: roster?.members.get(me.identity.fingerprint)?.role ?? 'member',
      epoch: currentEpoch(rt.record),
    };
  }

  async listMessages(roomId: string, limit = 100, beforeId?: string): Promise<MessageView[]> {
    this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    const messages = await this.requireHistory().list(rt.record, Math.min(Math.max(limit, 1), 500), beforeId);
    return messages.map((m) => toView(roomId, m));
  }

  async sendMessage(roomId: string, text: string): Promise<MessageView> {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (!text.trim()) throw new UserFacingError('invalid-input', 'message is empty');
    if (text.length > MAX_TEXT_CHARS) throw new UserFacingError('invalid-input', `messages are at most ${MAX_TEXT_CHARS} characters`);
    return this.withRoom(rt, async () => {
      const epoch = currentEpoch(rt.record);
      const gek = rt.record.keys[String(epoch)];
      if (!gek) throw new UserFacingError('no-key', 'the key for this room has not arrived yet');
      const ctr = rt.record.myCtr + 1;
      const payload: TextPayload = {
        v: 1,
        t: 'text',
        room: roomId,
        epoch,
        from: me.identity.fingerprint,
        ctr,
        id: randomHex(MESSAGE_ID_BYTES),
        ts: this.now(),
        text,
      };
      const ct = await sealWithGek(fromBase64(gek), utf8(JSON.stringify(payload)), me.privateKey);
      const stored: StoredMessage = {
        id: payload.id,
        from: payload.from,
        fromName: me.identity.name,
        text,
        ts: payload.ts,
        seq: null,
        mine: true,
        status: 'sending',
      };
      rt.record.myCtr = ctr;
      rt.record.outbox.push({ id: payload.id, epoch, ct });
      await this.requireHistory().append(rt.record, stored);
      this.noteLast(rt, stored);
      await this.saveRoom(rt);
      rt.conn?.send({ type: 'msg', id: payload.id, epoch, ct });
      return toView(roomId, stored);
    });
  }

  /** Adds the person behind a contact code to the room and sends them the room key. Resolves once the server has recorded it. */
  async inviteContact(roomId: string, code: string): Promise<MemberView> {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    const fingerprint = parseContactCode(code);
    if (!fingerprint) throw new UserFacingError('invalid-input', 'a contact code is 40 hexadecimal characters');
    const roster = rt.roster;
    if (!roster) throw new UserFacingError('offline', 'the room has not been verified yet; try again once connected');
    if (roster.members.get(me.identity.fingerprint)?.role !== 'admin') throw new UserFacingError('not-admin', 'only admins can invite');
    if (roster.members.has(fingerprint)) throw new UserFacingError('already-member', 'this person is already in the room');
    if (rt.conn?.status !== 'ready') throw new UserFacingError('offline', 'not connected to the server');

    const publicKey = await this.lookupKey(fingerprint);
    const key = await readPublicKey(publicKey);
    const epoch = currentEpoch(rt.record);
    const gek = rt.record.keys[String(epoch)];
    if (!gek) throw new UserFacingError('no-key', 'we do not hold the current room key');
    const record = await createAddRecord(roster, { fingerprint, publicKey, role: 'member' }, me.privateKey, this.now());
    const payload: RoomKeyPayload = {
      v: 1,
      t: 'room-key',
      room: roomId,
      epoch,
      from: me.identity.fingerprint,
      to: fingerprint,
      gek,
      name: rt.record.name,
      mode: rt.record.mode,
    };
    const ct = await sealKeyEnvelope(utf8(JSON.stringify(payload)), key, me.privateKey);
    await this.awaitChange(rt, record, { type: 'member-add', record, keys: [{ to: fingerprint, epoch, ct }] });
    const detail = await this.getRoom(roomId);
    const member = detail.members.find((m) => m.fingerprint === fingerprint);
    if (!member) throw new UserFacingError('server', 'the server did not record the new member');
    return member;
  }

  async markRead(roomId: string): Promise<void> {
    this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (rt.record.unread === 0) return;
    await this.withRoom(rt, async () => {
      rt.record.unread = 0;
      await this.saveRoom(rt);
    });
    this.emit({ type: 'state' });
  }

  totalUnread(): number {
    let total = 0;
    for (const rt of this.rooms.values()) total += rt.record.unread;
    return total;
  }

  /** Closes every connection (tests, and the worker shutting down). */
  closeAll(): void {
    this.directory?.close();
    this.directory = null;
    for (const rt of this.rooms.values()) {
      rt.conn?.close();
      rt.conn = null;
      rt.online.clear();
    }
  }

  // ── opening the vault ─────────────────────────────────────────────────────

  private async open(unlocked: Unlocked): Promise<void> {
    this.me = unlocked;
    this.history = new History(this.deps.local, unlocked.vaultKey);
    for (const id of (await this.deps.local.get('roomIndex')) ?? []) {
      const key: RoomKey = `room:${id}`;
      const sealed = await this.deps.local.get(key);
      if (!sealed) continue;
      const record = await unseal<RoomRecord>(unlocked.vaultKey, sealed, key);
      const rt = this.addRuntime(record);
      if (record.chain.length) rt.roster = await verifyChain(id, record.chain).catch(() => null);
    }
    this.connectDirectory();
    for (const rt of this.rooms.values()) this.connectRoom(rt);
    this.emit({ type: 'state' });
  }

  private async saveHost(input: string): Promise<void> {
    const parsed = parseHost(input);
    if (!parsed) throw new UserFacingError('invalid-input', 'server address must look like localhost:1999 or https://chat.example.org');
    this.host = parsed;
    await this.deps.local.set('settings', { host: formatHost(parsed) });
  }

  // ── directory: publish our key, receive invitations ───────────────────────

  private connectDirectory(): void {
    const me = this.requireUnlocked();
    this.directory?.close();
    this.directory = new PartyConnection({
      target: { ...this.host, party: PARTY_DIRECTORY, room: me.identity.fingerprint },
      openSocket: this.deps.openSocket,
      schema: directoryServerFrameSchema,
      authenticate: async (nonce) => ({
        type: 'auth',
        fp: me.identity.fingerprint,
        sig: await this.signChallenge(PARTY_DIRECTORY, me.identity.fingerprint, nonce),
        publicKey: me.identity.publicKey,
      }),
      onFrame: async (frame) => {
        if (frame.type === 'welcome') for (const invite of frame.invites) await this.acceptInvite(invite.room);
        if (frame.type === 'invite') await this.acceptInvite(frame.invite.room);
        if (frame.type === 'error') console.warn('directory error:', frame.code, frame.message);
      },
    });
  }

  /** An invitation is only a pointer: we join the room's connection and trust nothing until its chain verifies. */
  private async acceptInvite(roomId: string): Promise<void> {
    if (!this.rooms.has(roomId)) {
      const rt = this.addRuntime(emptyRoom(roomId, 'ephemeral', this.now()));
      await this.saveRoom(rt);
      await this.saveIndex();
      this.connectRoom(rt);
      this.emit({ type: 'state' });
    }
    this.directory?.send({ type: 'invite-ack', room: roomId });
  }

  private async lookupKey(fingerprint: string): Promise<string> {
    let res: Response;
    try {
      res = await this.deps.fetch(httpUrl(this.host, `/parties/${PARTY_DIRECTORY}/${fingerprint}`));
    } catch {
      throw new UserFacingError('offline', 'could not reach the server to look up the contact');
    }
    if (res.status === 404) throw new UserFacingError('contact-not-found', 'no key is published for this contact code');
    if (!res.ok) throw new UserFacingError('server', `the server answered ${res.status}`);
    const body = (await res.json()) as { publicKey?: unknown };
    if (typeof body.publicKey !== 'string') throw new UserFacingError('server', 'the server sent no public key');
    let key;
    try {
      key = await readPublicKey(body.publicKey);
    } catch {
      throw new UserFacingError('contact-key-mismatch', 'the server sent an unreadable key');
    }
    if (key.getFingerprint() !== fingerprint) {
      throw new UserFacingError('contact-key-mismatch', 'the key the server sent does not match the contact code');
    }
    return body.publicKey;
  }

  // ── rooms ─────────────────────────────────────────────────────────────────

  private connectRoom(rt: RoomRuntime): void {
    const me = this.requireUnlocked();
    rt.conn?.close();
    const roomId = rt.record.id;
    rt.conn = new PartyConnection({
      target: { ...this.host, party: PARTY_ROOM, room: roomId },
      openSocket: this.deps.openSocket,
      schema: roomServerFrameSchema,
      authenticate: async (nonce) => ({
        type: 'auth',
        fp: me.identity.fingerprint,
        sig: await this.signChallenge(PARTY_ROOM, roomId, nonce),
        ...(rt.record.pendingGenesis ? { genesis: rt.record.pendingGenesis } : {}),
      }),
      onFrame: (frame) => this.onRoomFrame(rt, frame),
      onStatus: (status, error) => {
        if (status !== 'ready') rt.online.clear();
        if (status === 'refused' && error) void this.onRefused(rt, error);
        this.emit({ type: 'room', roomId });
      },
    });
  }

  private async onRefused(rt: RoomRuntime, error: ErrorFrame): Promise<void> {
    // We created the room but missed the server's welcome: it exists now, so sign in as a member.
    if (error.code === 'room-exists' && rt.record.pendingGenesis) {
      await this.withRoom(rt, async () => {
        rt.record.pendingGenesis = null;
        await this.saveRoom(rt);
      });
      rt.conn?.retry();
      return;
    }
    this.deps.onRejected?.(rt.record.id, `server refused the connection: ${error.code}`);
  }

  private onRoomFrame(rt: RoomRuntime, frame: RoomServerFrame): Promise<void> | void {
    switch (frame.type) {
      case 'welcome':
        return this.withRoom(rt, () => this.onWelcome(rt, frame));
      case 'chain':
        return this.withRoom(rt, () => this.onChain(rt, frame.records));
      case 'keys':
        return this.withRoom(rt, () => this.onKeys(rt, frame.envelopes));
      case 'msg':
        return this.withRoom(rt, () => this.onMessage(rt, frame));
      case 'ack':
        return this.withRoom(rt, () => this.onAck(rt, frame.id, frame.seq));
      case 'presence':
        rt.online = new Set(frame.online);
        this.emit({ type: 'room', roomId: rt.record.id });
        return;
      case 'error':
        return this.onServerError(rt, frame);
    }
  }

  private async onWelcome(rt: RoomRuntime, frame: Extract<RoomServerFrame, { type: 'welcome' }>): Promise<void> {
    const me = this.requireUnlocked();
    let roster: Roster;
    try {
      roster = await verifyChain(rt.record.id, frame.chain);
    } catch (error) {
      this.reject(rt, `membership chain does not verify: ${describe(error)}`);
      return;
    }
    if (!extendsChain(rt.record.chain, frame.chain)) {
      this.reject(rt, 'the server sent a membership chain that rewrites the one we verified before');
      return;
    }
    if (!roster.members.has(me.identity.fingerprint)) {
      this.reject(rt, 'the verified chain does not include us');
      return;
    }
    rt.roster = roster;
    rt.online = new Set(frame.online);
    rt.record.chain = frame.chain;
    rt.record.mode = roster.mode;
    rt.record.pendingGenesis = null;
    await this.saveRoom(rt);
    for (const item of rt.record.outbox) rt.conn?.send({ type: 'msg', id: item.id, epoch: item.epoch, ct: item.ct });
    this.emit({ type: 'room', roomId: rt.record.id });
  }

  private async onChain(rt: RoomRuntime, records: SignedRecord[]): Promise<void> {
    if (!rt.roster) return;
    let roster = rt.roster;
    for (const record of records) {
      try {
        roster = await applyRecord(roster, record, rt.record.id);
      } catch (error) {
        this.reject(rt, `membership record rejected: ${describe(error)}`);
        rt.pending.get(record.body)?.reject(new UserFacingError('server', 'the server relayed an invalid record'));
        return;
      }
      rt.record.chain = [...rt.record.chain, record];
      rt.pending.get(record.body)?.resolve();
      rt.pending.delete(record.body);
    }
    rt.roster = roster;
    await this.saveRoom(rt);
    this.emit({ type: 'room', roomId: rt.record.id });
  }

  private async onKeys(rt: RoomRuntime, envelopes: DeliveredKey[]): Promise<void> {
    const me = this.requireUnlocked();
    const acked: string[] = [];
    for (const envelope of envelopes) {
      const sender = rt.roster?.members.get(envelope.from);
      if (!sender || envelope.to !== me.identity.fingerprint) {
        this.reject(rt, 'key envelope from someone outside the verified membership');
        continue;
      }
      let payload: RoomKeyPayload | null;
      try {
        const plain = await openKeyEnvelope(envelope.ct, me.privateKey, await readPublicKey(sender.publicKey));
        payload = parsePayload(roomKeyPayloadSchema, fromUtf8(plain));
      } catch (error) {
        this.reject(rt, `key envelope rejected: ${describe(error)}`);
        continue;
      }
      if (!payload || payload.room !== rt.record.id || payload.to !== me.identity.fingerprint || payload.from !== envelope.from || payload.epoch !== envelope.epoch) {
        this.reject(rt, 'key envelope does not match this room, epoch or recipient');
        continue;
      }
      rt.record.keys[String(payload.epoch)] = payload.gek;
      if (!rt.record.name) rt.record.name = payload.name;
      acked.push(envelope.kid);
    }
    await this.saveRoom(rt);
    if (acked.length) rt.conn?.send({ type: 'keys-ack', kids: acked });
    this.emit({ type: 'state' });
  }

  private async onMessage(rt: RoomRuntime, frame: RelayedMessage): Promise<void> {
    const me = this.requireUnlocked();
    if (frame.from === me.identity.fingerprint) return;
    const sender = rt.roster?.members.get(frame.from);
    if (!sender) return this.reject(rt, `message from ${frame.from}, who is not in the verified membership`);
    const gek = rt.record.keys[String(frame.epoch)];
    if (!gek) return this.reject(rt, `no key for epoch ${frame.epoch}`);
    let payload: TextPayload | null;
    try {
      const plain = await openWithGek(fromBase64(gek), frame.ct, await readPublicKey(sender.publicKey));
      payload = parsePayload(textPayloadSchema, fromUtf8(plain));
    } catch (error) {
      return this.reject(rt, `message rejected: ${describe(error)}`);
    }
    if (!payload) return this.reject(rt, 'message payload is malformed');
    if (payload.from !== frame.from || payload.room !== rt.record.id || payload.epoch !== frame.epoch || payload.id !== frame.id) {
      return this.reject(rt, 'message payload does not match its envelope (forged sender, room, epoch or id)');
    }
    const last = rt.record.peerCtr[frame.from] ?? 0;
    if (payload.ctr <= last) return; // a replay or a duplicate: already shown
    if (payload.ctr > last + 1) rt.record.gaps[frame.from] = (rt.record.gaps[frame.from] ?? 0) + (payload.ctr - last - 1);
    rt.record.peerCtr[frame.from] = payload.ctr;
    rt.record.lastSeq = Math.max(rt.record.lastSeq, frame.seq);
    const stored: StoredMessage = {
      id: payload.id,
      from: frame.from,
      fromName: sender.name,
      text: payload.text,
      ts: payload.ts,
      seq: frame.seq,
      mine: false,
      status: 'received',
    };
    await this.requireHistory().append(rt.record, stored);
    rt.record.unread += 1;
    this.noteLast(rt, stored);
    await this.saveRoom(rt);
    this.emit({ type: 'message', roomId: rt.record.id, message: toView(rt.record.id, stored) });
    this.emit({ type: 'state' });
  }

  private async onAck(rt: RoomRuntime, id: string, seq: number): Promise<void> {
    const before = rt.record.outbox.length;
    rt.record.outbox = rt.record.outbox.filter((item) => item.id !== id);
    if (rt.record.outbox.length === before) return;
    rt.record.lastSeq = Math.max(rt.record.lastSeq, seq);
    const updated = await this.requireHistory().update(rt.record, id, { status: 'sent', seq });
    await this.saveRoom(rt);
    if (updated) this.emit({ type: 'message', roomId: rt.record.id, message: toView(rt.record.id, updated) });
  }

  private onServerError(rt: RoomRuntime, frame: ErrorFrame): void {
    console.warn(`room ${rt.record.id} error:`, frame.code, frame.message);
    // A refused change fails the oldest change still waiting for confirmation.
    const first = rt.pending.entries().next();
    if (!first.done && ['bad-record', 'forbidden', 'room-full', 'bad-frame'].includes(frame.code)) {
      const [body, change] = first.value;
      rt.pending.delete(body);
      change.reject(new UserFacingError(frame.code === 'forbidden' ? 'not-admin' : 'server', frame.message));
    }
  }

  /** Sends a signed membership change and waits for the server to relay it back (or refuse it). */
  private awaitChange(rt: RoomRuntime, record: SignedRecord, frame: unknown): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        rt.pending.delete(record.body);
        reject(new UserFacingError('offline', 'the server did not confirm the change in time'));
      }, this.deps.confirmTimeoutMs ?? 10_000);
      rt.pending.set(record.body, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (!rt.conn?.send(frame)) {
        rt.pending.get(record.body)?.reject(new UserFacingError('offline', 'not connected to the server'));
        rt.pending.delete(record.body);
      }
    });
  }

  // ── helpers ───────────────────────────────────────────────────────────────

  private reject(rt: RoomRuntime, reason: string): void {
    console.warn(`room ${rt.record.id}: ${reason}`);
    this.deps.onRejected?.(rt.record.id, reason);
  }

  private signChallenge(party: string, room: string, nonce: string): Promise<string> {
    return signDetached(this.requireUnlocked().privateKey, utf8(authChallengeText(AUTH_CONTEXT, party, room, nonce)));
  }

  private addRuntime(record: RoomRecord): RoomRuntime {
    const rt: RoomRuntime = { record, roster: null, conn: null, online: new Set(), queue: Promise.resolve(), pending: new Map() };
    this.rooms.set(record.id, rt);
    return rt;
  }

  private withRoom<T>(rt: RoomRuntime, task: () => Promise<T>): Promise<T> {
    const run = rt.queue.then(task, task);
    rt.queue = run.catch(() => undefined);
    return run;
  }

  private async saveRoom(rt: RoomRuntime): Promise<void> {
    const key: RoomKey = `room:${rt.record.id}`;
    await this.deps.local.set(key, await seal(this.requireUnlocked().vaultKey, rt.record, key));
  }

  private async saveIndex(): Promise<void> {
    await this.deps.local.set('roomIndex', [...this.rooms.keys()]);
  }

  private noteLast(rt: RoomRuntime, message: StoredMessage): void {
    rt.record.lastText = message.text.slice(0, 120);
    rt.record.lastTs = message.ts;
  }

  private summaries(): RoomSummary[] {
    return [...this.rooms.values()].map((rt) => this.summary(rt)).sort((a, b) => (b.lastTs ?? 0) - (a.lastTs ?? 0));
  }

  private summary(rt: RoomRuntime): RoomSummary {
    const r = rt.record;
    return {
      id: r.id,
      name: r.name,
      mode: r.mode,
      unread: r.unread,
      lastText: r.lastText,
      lastTs: r.lastTs ?? r.createdAt,
      connected: rt.conn?.status === 'ready',
      hasKey: r.keys[String(currentEpoch(r))] !== undefined,
    };
  }

  private requireUnlocked(): Unlocked {
    if (!this.me) throw new UserFacingError('locked', 'unlock with your passphrase first');
    return this.me;
  }

  private requireHistory(): History {
    if (!this.history) throw new UserFacingError('locked', 'unlock with your passphrase first');
    return this.history;
  }

  private requireRoom(roomId: string): RoomRuntime {
    const rt = this.rooms.get(roomId);
    if (!rt) throw new UserFacingError('no-room', 'no such room in this browser');
    return rt;
  }

  private emit(event: PushEvent): void {
    this.deps.emit?.(event);
  }
}

function emptyRoom(id: string, mode: RoomMode, now: number): RoomRecord {
  return {
    id,
    name: '',
    mode,
    createdAt: now,
    keys: {},
    chain: [],
    pendingGenesis: null,
    myCtr: 0,
    peerCtr: {},
    gaps: {},
    lastSeq: 0,
    unread: 0,
    lastText: null,
    lastTs: null,
    pages: 0,
    outbox: [],
  };
}

/** The newest epoch we hold a key for (rotation comes with removal; until then every room is at epoch 0). */
function currentEpoch(record: RoomRecord): number {
  const epochs = Object.keys(record.keys).map(Number);
  return epochs.length ? Math.max(...epochs) : 0;
}

/** True if `next` keeps every record of `known` in place (the server may only append). */
function extendsChain(known: SignedRecord[], next: SignedRecord[]): boolean {
  if (next.length < known.length) return false;
  return known.every((record, i) => next[i]?.body === record.body && next[i]?.sig === record.sig);
}

function toView(roomId: string, m: StoredMessage): MessageView {
  return { id: m.id, roomId, from: m.from, fromName: m.fromName, text: m.text, ts: m.ts, mine: m.mine, status: m.status };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
