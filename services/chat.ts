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
  decryptFor,
  displayNameOf,
  formatContactCode,
  generateGek,
  openKeyEnvelope,
  openWithGek,
  parseContactCode,
  readPublicKey,
  sealKeyEnvelope,
  sealKeyEnvelopes,
  sealWithGek,
  signDetached,
  unlockPrivateKey,
  type PrivateKey,
} from '@/shared/crypto';
import { fromBase64, fromUtf8, randomHex, sha256Hex, toBase64, utf8 } from '@/shared/encoding';
import { deriveLinkKeys, formatLink, fromBase64Url, newLinkId, newLinkSecret, parseLink, signJoinProof, toBase64Url, verifyJoinProof } from '@/shared/links';
import {
  applyRecord,
  createAddRecord,
  createGenesis,
  createRecord,
  DISAPPEAR_CHOICES_MS,
  parseRecordBody,
  roomSettingsSchema,
  verifyChain,
  verifyChainPrefix,
  type LinkState,
  type RecordFields,
  type RoomSettings,
  type Roster,
} from '@/shared/membership';
import {
  escrowPayloadSchema,
  parsePayload,
  roomKeyIsFor,
  roomKeyPayloadSchema,
  textPayloadSchema,
  type EscrowPayload,
  type RoomKeyPayload,
  type TextPayload,
} from '@/shared/payloads';
import {
  authChallengeText,
  directoryServerFrameSchema,
  MAX_PAGE_MESSAGES,
  roomServerFrameSchema,
  type AppendFrame,
  type AuthFrame,
  type DeliveredKey,
  type DirectoryAuthFrame,
  type DirectoryClientFrame,
  type DirectoryServerFrame,
  type Envelope,
  type ErrorFrame,
  type JoinFrame,
  type JoinRequest,
  type KeyEnvelope,
  type RoomClientFrame,
  type RoomMode,
  type RoomServerFrame,
  type SignedRecord,
} from '@/shared/protocol';
import type {
  AppState,
  CreateLinkOptions,
  IdentityExport,
  JoinRequestView,
  LinkView,
  MemberView,
  MessageView,
  PushEvent,
  RoomDetail,
  RoomSummary,
  UserErrorCode,
} from '@/utils/protocol-map';
import type { LocalItems, OutboxItem, RoomRecord, SessionItems, StoredMessage } from './records';
import { PartyConnection, type Challenge, type SocketFactory } from './connection';
import { UserFacingError } from './errors';
import { History } from './history';
import { formatHost, httpUrl, parseHost, type PartyHost } from './host';
import { openBundle, sealBundle, type IdentityBundle } from './identity-transfer';
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
  conn: PartyConnection<RoomServerFrame, RoomClientFrame> | null;
  online: Set<string>;
  /** Serialises every change to this room's record. */
  queue: Promise<unknown>;
  /** Records we sent, by record body, awaiting the server's chain broadcast. */
  pending: Map<string, PendingChange>;
  /** Members the server lists whom no valid signature admits: flagged in the UI, never sent a key. */
  unverified: Set<string>;
  /** Verified join requests (admins). */
  requests: Map<string, JoinRequest & { name: string }>;
  /** Resolves a pending `loadOlder`. */
  olderWaiter: ((count: number) => void) | null;
  /** Ephemeral rooms: the sequence we still need history after (we missed messages while away), until a member supplies them. */
  syncSince: number | null;
  /** The room's newest sequence number as far as we know. */
  serverSeq: number;
  /** The room's key epoch as the server last said. */
  serverEpoch: number;
  /** Disappearing-timer changes parsed from the chain (see timerChanges). */
  timers: { length: number; changes: Array<{ ts: number; ms: number | null }> } | null;
  /** A rotation we proposed: its key stays here until the server says we started that epoch, then the other envelopes go out. */
  rotation: { epoch: number; gek: string; rest: KeyEnvelope[] } | null;
  resendTimer: ReturnType<typeof setTimeout> | null;
}

type RoomKey = `room:${string}`;

/** How long onboarding waits for the server to accept our published key before returning anyway. */
const PUBLISH_WAIT_MS = 5_000;
/** Most envelopes we hand a member who missed them (ephemeral sync). */
const MAX_SYNC_MESSAGES = 500;
/** How long loadOlder waits for the server's page. */
const LOAD_OLDER_TIMEOUT_MS = 15_000;
/** How long members wait for the remover to start the next key epoch before one of them does. */
const ROTATION_GRACE_MS = 1_500;
/** Key envelopes carried in the rotate frame itself; the rest follow in `keys` frames. */
const ROTATE_FIRST_KEYS = 32;
/** Pause before resending the outbox after the server said we were over its rate. */
const RESEND_AFTER_MS = 1_500;
/** Characters of envelopes per sync-reply frame, under the server's frame cap. */
const SYNC_FRAME_BUDGET = 48_000;

/** Server refusals of a join, as the UI names them. */
const JOIN_ERRORS: Partial<Record<string, UserErrorCode>> = {
  'link-invalid': 'link-invalid',
  'link-expired': 'link-expired',
  'link-used-up': 'link-used-up',
  'join-denied': 'join-denied',
  banned: 'banned',
  'bad-record': 'server',
  'auth-failed': 'server',
  'no-room': 'link-invalid',
};

export class ChatService {
  private readonly vault: Vault;
  private readonly now: () => number;
  private me: Unlocked | null = null;
  private history: History | null = null;
  private host: PartyHost;
  private readonly rooms = new Map<string, RoomRuntime>();
  private directory: PartyConnection<DirectoryServerFrame, DirectoryClientFrame> | null = null;
  private started: Promise<void> | null = null;
  /** This installation's id, part of every message counter. */
  private device = '';
  private sweepTimer: ReturnType<typeof setTimeout> | null = null;

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
    await this.joinCapturedLink();
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
    await this.joinCapturedLink();
    return this.getState();
  }

  async lock(): Promise<AppState> {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
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
          verified: true,
          canCreateLinks: m.canCreateLinks,
        }))
      : [];
    for (const fingerprint of rt.unverified) {
      members.push({
        fingerprint,
        name: '',
        role: 'member',
        online: rt.online.has(fingerprint),
        me: false,
        contactCode: formatContactCode(fingerprint),
        verified: false,
        canCreateLinks: false,
      });
    }
    const joinRequests: JoinRequestView[] = [...rt.requests.values()].map((r) => ({
      fingerprint: r.fp,
      name: r.name,
      contactCode: formatContactCode(r.fp),
      linkLabel: null,
      ts: r.ts,
    }));
    for (const view of joinRequests) view.linkLabel = await this.linkLabel(rt, roster?.links.get(rt.requests.get(view.fingerprint)?.link ?? ''));
    return {
      ...this.summary(rt),
      members,
      myRole: roster?.members.get(me.identity.fingerprint)?.role ?? 'member',
      epoch: currentEpoch(rt.record),
      joinRequests,
      settings: roster?.settings ?? { disappearMs: null, shareHistory: false, retentionDays: null, retentionCount: null },
      canCreateLinks: roster?.members.get(me.identity.fingerprint)?.canCreateLinks ?? false,
      banned: [...(roster?.banned ?? [])].map((fingerprint) => ({ fingerprint, contactCode: formatContactCode(fingerprint) })),
      gaps: Object.entries(rt.record.missing)
        .filter(([, list]) => list.length > 0)
        .map(([key, list]) => {
          const fingerprint = key.split(':')[0] ?? '';
          return { fingerprint, name: roster?.members.get(fingerprint)?.name ?? '', count: list.length };
        }),
    };
  }

  async listMessages(roomId: string, limit = 100, beforeId?: string): Promise<MessageView[]> {
    this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    const messages = await this.requireHistory().list(rt.record, Math.min(Math.max(limit, 1), 500), beforeId);
    // Catch-up can store an older message after a newer one arrived live; show them in server order.
    const order = (m: StoredMessage) => m.seq ?? Number.MAX_SAFE_INTEGER;
    return messages
      .map((m, i) => ({ m, i }))
      .sort((a, b) => order(a.m) - order(b.m) || a.i - b.i)
      .map(({ m }) => toView(roomId, m));
  }

  async sendMessage(roomId: string, text: string): Promise<MessageView> {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (!text.trim()) throw new UserFacingError('invalid-input', 'message is empty');
    if (text.length > MAX_TEXT_CHARS) throw new UserFacingError('invalid-input', `messages are at most ${MAX_TEXT_CHARS} characters`);
    return this.withRoom(rt, async () => {
      if (rt.record.removed) throw new UserFacingError('removed', 'you are no longer a member of this room');
      const epoch = Math.max(currentEpoch(rt.record), rt.serverEpoch);
      const gek = rt.record.keys[String(epoch)];
      if (!gek) throw new UserFacingError('no-key', 'the key for this room has not arrived yet');
      const ctr = rt.record.myCtr + 1;
      const payload: TextPayload = {
        v: 1,
        t: 'text',
        room: roomId,
        epoch,
        from: me.identity.fingerprint,
        dev: this.device,
        ctr,
        id: randomHex(MESSAGE_ID_BYTES),
        ts: this.now(),
        text,
      };
      const ct = await sealWithGek(fromBase64(gek), utf8(JSON.stringify(payload)), me.privateKey);
      const stored: StoredMessage = {
        ...textMessage(payload, me.identity.name, true, 'sending', null),
        expiresAt: this.expiryFor(rt, payload.ts),
        epoch,
      };
      rt.record.myCtr = ctr;
      rt.record.peerCtr[`${payload.from}:${payload.dev}`] = ctr;
      const item: OutboxItem = { id: payload.id, epoch, ct, unwritten: true };
      rt.record.outbox.push(item);
      this.noteLast(rt, stored);
      // The counter and the outbox are on disk before the frame leaves (a restart resends it, never reuses the
      // counter); the history page is written after, off the path to the other members (see `restoreSent`).
      await this.saveRoom(rt);
      rt.conn?.send({ type: 'msg', id: payload.id, epoch, ct });
      await this.requireHistory().append(rt.record, stored);
      if (stored.expiresAt !== null) this.scheduleSweep();
      delete item.unwritten;
      await this.saveRoom(rt);
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
    await this.awaitChange(rt, record, { type: 'append', record, keys: [{ to: fingerprint, epoch, ct }] });
    await this.shareEarlierKeys(rt, fingerprint, key);
    const detail = await this.getRoom(roomId);
    const member = detail.members.find((m) => m.fingerprint === fingerprint);
    if (!member) throw new UserFacingError('server', 'the server did not record the new member');
    return member;
  }

  // ── invite links ──────────────────────────────────────────────────────────

  /** Creates an invite link: an admin-signed link record, plus the room key escrowed under the link secret if asked. */
  async createLink(roomId: string, options: CreateLinkOptions): Promise<LinkView> {
    const me = this.requireUnlocked();
    const rt = this.requireLinkCreatorRoom(roomId);
    const roster = rt.roster as Roster;
    if (options.approval && options.escrow) {
      throw new UserFacingError('escrow-with-approval', 'a link that needs approval cannot let the server hold the key');
    }
    if (options.maxUses !== null && (!Number.isInteger(options.maxUses) || options.maxUses < 1)) {
      throw new UserFacingError('invalid-input', 'the use limit must be a whole number of at least 1');
    }
    const epoch = currentEpoch(rt.record);
    const gek = rt.record.keys[String(epoch)];
    if (!gek) throw new UserFacingError('no-key', 'we do not hold the current room key');
    const secret = newLinkSecret();
    const keys = await deriveLinkKeys(secret);
    const id = newLinkId();
    const label = options.label.trim().slice(0, 80);
    const record = await createRecord<'link'>(
      roster,
      {
        kind: 'link',
        link: id,
        pub: keys.publicKey,
        approval: options.approval,
        escrow: options.escrow,
        expires: options.expiresInMs === null ? null : this.now() + options.expiresInMs,
        uses: options.maxUses,
        label: label ? await sealWithGek(fromBase64(gek), utf8(label), me.privateKey) : null,
      },
      me.privateKey,
      this.now(),
    );
    let escrow;
    if (options.escrow) {
      const payload: EscrowPayload = { v: 1, t: 'escrow-key', room: roomId, epoch, from: me.identity.fingerprint, link: id, gek, name: rt.record.name, mode: rt.record.mode };
      escrow = { link: id, epoch, ct: await sealWithGek(keys.wrapKey, utf8(JSON.stringify(payload)), me.privateKey) };
    }
    await this.withRoom(rt, async () => {
      rt.record.linkSecrets[id] = toBase64Url(secret);
      await this.saveRoom(rt);
    });
    await this.awaitChange(rt, record, { type: 'append', record, ...(escrow ? { escrow } : {}) });
    const view = (await this.listLinks(roomId)).find((l) => l.id === id);
    if (!view) throw new UserFacingError('server', 'the server did not record the link');
    return view;
  }

  /** Admins see every link; a member allowed to create links sees their own. */
  async listLinks(roomId: string): Promise<LinkView[]> {
    const rt = this.requireLinkCreatorRoom(roomId);
    const me = this.requireUnlocked().identity.fingerprint;
    const admin = rt.roster?.members.get(me)?.role === 'admin';
    const views: LinkView[] = [];
    for (const link of rt.roster?.links.values() ?? []) if (admin || link.by === me) views.push(await this.linkView(rt, link));
    return views.sort((a, b) => b.createdAt - a.createdAt);
  }

  async revokeLink(roomId: string, linkId: string): Promise<LinkView[]> {
    const rt = this.requireAdminRoom(roomId);
    if (!rt.roster?.links.get(linkId)?.active) throw new UserFacingError('link-invalid', 'this link is not active');
    await this.appendChange<'link-revoke'>(rt, { kind: 'link-revoke', link: linkId });
    return this.listLinks(roomId);
  }

  /** Kills every link of the room at once; the server deletes their escrowed keys. */
  async resetLinks(roomId: string): Promise<LinkView[]> {
    const rt = this.requireAdminRoom(roomId);
    await this.appendChange<'links-reset'>(rt, { kind: 'links-reset' });
    return this.listLinks(roomId);
  }

  /** Starts joining through a pasted or captured link; progress shows in the room's `joinState`. */
  async joinByLink(url: string): Promise<RoomSummary> {
    this.requireUnlocked();
    const link = parseLink(url);
    if (!link) throw new UserFacingError('not-a-link', 'this is not a PartyChat invite link (or its # part is missing)');
    if (!sameHost(link.host, this.host.host)) {
      throw new UserFacingError('other-server', `this link is for the server ${link.host}; this browser uses ${this.host.host}. Change the server in settings to join.`);
    }
    const existing = this.rooms.get(link.room);
    if (existing && !existing.record.joining) return this.summary(existing);
    const rt = existing ?? this.addRuntime(emptyRoom(link.room, 'ephemeral', this.now()));
    rt.record.joining = { link: link.link, secret: toBase64Url(link.secret), state: 'joining', error: null };
    await this.saveRoom(rt);
    await this.saveIndex();
    this.connectRoom(rt);
    this.emit({ type: 'state' });
    return this.summary(rt);
  }

  /** A link opened in a tab: join now, or after unlocking. Returns the room id when joining started. */
  async captureLink(url: string): Promise<string | null> {
    await this.start();
    if (!this.me) {
      await this.deps.session.set('capturedLink', url);
      return parseLink(url)?.room ?? null;
    }
    return (await this.joinByLink(url)).id;
  }

  async setLinkPermission(roomId: string, fingerprint: string, allowed: boolean): Promise<RoomDetail> {
    const rt = this.requireAdminRoom(roomId);
    const member = rt.roster?.members.get(fingerprint);
    if (!member) throw new UserFacingError('no-room', 'this person is not a member of the room');
    if (member.role === 'admin') throw new UserFacingError('invalid-input', 'admins can always create links');
    if (member.canCreateLinks !== allowed) await this.appendChange<'grant'>(rt, { kind: 'grant', member: fingerprint, canCreateLinks: allowed });
    return this.getRoom(roomId);
  }

  async unban(roomId: string, fingerprint: string): Promise<RoomDetail> {
    const rt = this.requireAdminRoom(roomId);
    if (!rt.roster?.banned.has(fingerprint)) throw new UserFacingError('invalid-input', 'this identity is not banned');
    await this.appendChange<'unban'>(rt, { kind: 'unban', member: fingerprint });
    return this.getRoom(roomId);
  }

  async approveRequest(roomId: string, fingerprint: string): Promise<RoomDetail> {
    const me = this.requireUnlocked();
    const rt = this.requireAdminRoom(roomId);
    const request = rt.requests.get(fingerprint);
    if (!request) throw new UserFacingError('no-room', 'this request is no longer pending');
    const epoch = currentEpoch(rt.record);
    const gek = rt.record.keys[String(epoch)];
    if (!gek) throw new UserFacingError('no-key', 'we do not hold the current room key');
    const record = await createAddRecord(rt.roster as Roster, { fingerprint, publicKey: request.key, role: 'member', via: request.link }, me.privateKey, this.now());
    const payload: RoomKeyPayload = { v: 1, t: 'room-key', room: roomId, epoch, from: me.identity.fingerprint, to: fingerprint, gek, name: rt.record.name, mode: rt.record.mode };
    const ct = await sealKeyEnvelope(utf8(JSON.stringify(payload)), await readPublicKey(request.key), me.privateKey);
    await this.awaitChange(rt, record, { type: 'append', record, keys: [{ to: fingerprint, epoch, ct }] });
    await this.shareEarlierKeys(rt, fingerprint, await readPublicKey(request.key));
    rt.requests.delete(fingerprint);
    return this.getRoom(roomId);
  }

  async denyRequest(roomId: string, fingerprint: string): Promise<RoomDetail> {
    const rt = this.requireAdminRoom(roomId);
    if (!rt.conn?.send({ type: 'join-deny', member: fingerprint })) throw new UserFacingError('offline', 'not connected to the server');
    rt.requests.delete(fingerprint);
    this.emit({ type: 'state' });
    return this.getRoom(roomId);
  }

  /** Bans someone asking to join: their requests are refused from now on. */
  async banRequester(roomId: string, fingerprint: string): Promise<RoomDetail> {
    const rt = this.requireAdminRoom(roomId);
    await this.appendChange<'ban'>(rt, { kind: 'ban', member: fingerprint });
    rt.requests.delete(fingerprint);
    return this.getRoom(roomId);
  }

  /** Packs the identity, rooms and room keys for another browser, encrypted with the passphrase (which must unlock the identity). */
  async exportIdentity(passphrase: string): Promise<IdentityExport> {
    this.requireUnlocked();
    const identity = await this.vault.identity();
    if (!identity) throw new UserFacingError('locked', 'no identity to export');
    try {
      await unlockPrivateKey(identity.encryptedPrivateKey, passphrase);
    } catch {
      throw new UserFacingError('wrong-passphrase', 'enter the passphrase of this identity to export it');
    }
    const bundle: IdentityBundle = {
      v: 1,
      kind: 'partychat-identity',
      identity: { name: identity.name, fingerprint: identity.fingerprint, publicKey: identity.publicKey, encryptedPrivateKey: identity.encryptedPrivateKey },
      host: formatHost(this.host),
      rooms: [...this.rooms.values()]
        .filter((rt) => !rt.record.joining && Object.keys(rt.record.keys).length > 0)
        .map(({ record: r }) => ({ id: r.id, name: r.name, mode: r.mode, createdAt: r.createdAt, keys: r.keys, chain: r.chain, linkSecrets: r.linkSecrets })),
    };
    const safeName = identity.name.replace(/[^\p{L}\p{N}_-]+/gu, '-').slice(0, 40) || 'identity';
    return { fileName: `partychat-${safeName}.asc`, content: await sealBundle(bundle, passphrase) };
  }

  /** Sets this browser up with an identity exported elsewhere; backup rooms refill from the server. */
  async importIdentity(content: string, passphrase: string, host?: string): Promise<AppState> {
    await this.start();
    if (await this.vault.identity()) throw new UserFacingError('invalid-input', 'an identity already exists in this browser');
    const bundle = await openBundle(content, passphrase);
    await this.saveHost(host ?? bundle.host);
    let unlocked: Unlocked;
    try {
      unlocked = await this.vault.adopt(bundle.identity, passphrase, this.now());
    } catch {
      throw new UserFacingError('bad-import', 'the passphrase does not unlock the identity in this file');
    }
    this.me = unlocked;
    this.history = new History(this.deps.local, unlocked.vaultKey);
    for (const room of bundle.rooms) {
      const record: RoomRecord = { ...emptyRoom(room.id, room.mode, room.createdAt), name: room.name, keys: room.keys, chain: room.chain, linkSecrets: room.linkSecrets };
      const rt = this.addRuntime(record);
      await this.saveRoom(rt);
    }
    await this.saveIndex();
    this.rooms.clear();
    await this.open(unlocked);
    return this.getState();
  }

  /** Drops a room we are not a member of (a failed or abandoned join): its connection, record and history. */
  async forgetRoom(roomId: string): Promise<AppState> {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (rt.roster?.members.has(me.identity.fingerprint) && !rt.record.joining && !rt.record.removed) {
      throw new UserFacingError('invalid-input', 'leave the room first (Leave), then it can be removed from this browser');
    }
    rt.conn?.close();
    this.rooms.delete(roomId);
    await this.requireHistory().removeRoom(rt.record);
    await this.deps.local.remove(`room:${roomId}`);
    await this.saveIndex();
    this.emit({ type: 'state' });
    return this.getState();
  }

  /** Removes a member; we then start the next key epoch, which they never receive. */
  async removeMember(roomId: string, fingerprint: string): Promise<RoomDetail> {
    const rt = this.requireAdminRoom(roomId);
    if (fingerprint === this.fingerprint) throw new UserFacingError('invalid-input', 'to leave the room, use Leave');
    if (!rt.roster?.members.has(fingerprint)) throw new UserFacingError('no-room', 'this person is not a member of the room');
    await this.appendChange<'remove'>(rt, { kind: 'remove', member: fingerprint });
    return this.getRoom(roomId);
  }

  /** Leaves a room (the remaining members move to a new key) and forgets it in this browser. */
  async leaveRoom(roomId: string): Promise<AppState> {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (rt.roster?.members.has(me.identity.fingerprint) && !rt.record.removed) {
      const record = await createRecord<'leave'>(rt.roster, { kind: 'leave', member: me.identity.fingerprint }, me.privateKey, this.now());
      await this.awaitChange(rt, record, { type: 'append', record });
    }
    rt.record.removed = true;
    return this.forgetRoom(roomId);
  }

  /**
   * After a removal or a leave, someone still in the room must start the next key epoch: the admin who
   * removed, or else the online member with the smallest fingerprint. Duplicates are refused by the server.
   */
  private async maybeRotate(rt: RoomRuntime, remover: string | null): Promise<void> {
    const me = this.requireUnlocked();
    const roster = rt.roster;
    if (!roster?.members.has(me.identity.fingerprint) || rt.record.removed) return;
    const online = [...rt.online, me.identity.fingerprint].filter((fp) => roster.members.has(fp)).sort();
    const designated = remover && roster.members.has(remover) && rt.online.has(remover) ? remover : online[0];
    if (designated !== me.identity.fingerprint) return;
    const epoch = rt.serverEpoch + 1;
    if (rt.record.keys[String(epoch)] || rt.rotation?.epoch === epoch) return;
    const gek = toBase64(generateGek());
    const recipients = [];
    for (const member of roster.members.values()) recipients.push({ fingerprint: member.fingerprint, key: await readPublicKey(member.publicKey) });
    // One payload for every member, sealed once; several recipients are named by the chain head, one by `to` (see RoomKeyPayload).
    const only = recipients.length === 1 ? recipients[0]?.fingerprint : undefined;
    const payload: RoomKeyPayload = { v: 1, t: 'room-key', room: rt.record.id, epoch, from: me.identity.fingerprint, ...(only ? { to: only } : { head: roster.head }), gek, name: rt.record.name, mode: rt.record.mode };
    const sealed = await sealKeyEnvelopes(utf8(JSON.stringify(payload)), recipients, me.privateKey);
    const keys = [...sealed].map(([to, ct]) => ({ to, epoch, ct }));
    // Escrowed copies of links we hold the secret of follow the key; the server retires the rest.
    const escrows = [];
    for (const link of roster.links.values()) {
      const secret = rt.record.linkSecrets[link.id];
      if (!link.active || !link.escrow || !secret) continue;
      const { wrapKey } = await deriveLinkKeys(fromBase64Url(secret));
      const payload: EscrowPayload = { v: 1, t: 'escrow-key', room: rt.record.id, epoch, from: me.identity.fingerprint, link: link.id, gek, name: rt.record.name, mode: rt.record.mode };
      escrows.push({ link: link.id, epoch, ct: await sealWithGek(wrapKey, utf8(JSON.stringify(payload)), me.privateKey) });
    }
    rt.rotation = { epoch, gek, rest: keys.slice(ROTATE_FIRST_KEYS) };
    if (!rt.conn?.send({ type: 'rotate', epoch, keys: keys.slice(0, ROTATE_FIRST_KEYS), escrows: escrows.slice(0, 16) })) rt.rotation = null;
  }

  /** The server says a rotation is due: give the member who removed someone a moment to do it, then step in if nobody did. */
  private rotateIfStillDue(rt: RoomRuntime): void {
    const epoch = rt.serverEpoch;
    setTimeout(() => {
      if (rt.serverEpoch === epoch && this.rooms.get(rt.record.id) === rt) void this.withRoom(rt, () => this.maybeRotate(rt, null));
    }, ROTATION_GRACE_MS);
  }

  /** Messages still unsent at an old epoch are sealed again with the room's current key (same id and counter). */
  private async resealOutbox(rt: RoomRuntime): Promise<void> {
    const me = this.requireUnlocked();
    const epoch = currentEpoch(rt.record);
    const gek = rt.record.keys[String(epoch)];
    if (!gek || epoch < rt.serverEpoch) return;
    let changed = false;
    for (const item of rt.record.outbox) {
      if (item.epoch >= epoch) continue;
      const old = rt.record.keys[String(item.epoch)];
      if (!old) continue;
      const plain = await openWithGek(fromBase64(old), item.ct, me.privateKey.toPublic()).catch(() => null);
      const payload = plain ? parsePayload(textPayloadSchema, fromUtf8(plain)) : null;
      if (!payload) continue;
      item.ct = await sealWithGek(fromBase64(gek), utf8(JSON.stringify({ ...payload, epoch })), me.privateKey);
      item.epoch = epoch;
      changed = true;
      rt.conn?.send({ type: 'msg', id: item.id, epoch, ct: item.ct });
    }
    if (changed) await this.saveRoom(rt);
  }

  async markRead(roomId: string): Promise<void> {
    this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (rt.record.unread === 0) return;
    await this.withRoom(rt, async () => {
      rt.record.unread = 0;
      await this.saveRoom(rt);
    });
    this.emit({ type: 'summary', room: this.summary(rt) });
  }

  /** Tells the UI about a new or changed message, with the room's summary after it (no separate state event: one per message is enough). */
  private emitMessage(rt: RoomRuntime, stored: StoredMessage): void {
    this.emit({ type: 'message', roomId: rt.record.id, message: toView(rt.record.id, stored), room: this.summary(rt) });
  }

  totalUnread(): number {
    let total = 0;
    for (const rt of this.rooms.values()) total += rt.record.unread;
    return total;
  }

  /** Pending join requests across the rooms we administer. */
  totalRequests(): number {
    let total = 0;
    for (const rt of this.rooms.values()) total += rt.requests.size;
    return total;
  }

  /** Resolves once the work already queued for every room has finished, writes included (a message is shown before it is written). */
  async settled(): Promise<void> {
    await Promise.all([...this.rooms.values()].map((rt) => rt.queue));
  }

  /** Closes every connection (tests, and the worker shutting down). */
  closeAll(): void {
    this.directory?.close();
    this.directory = null;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    for (const rt of this.rooms.values()) {
      if (rt.resendTimer) clearTimeout(rt.resendTimer);
      rt.resendTimer = null;
      rt.conn?.close();
      rt.conn = null;
      rt.online.clear();
    }
  }

  // ── opening the vault ─────────────────────────────────────────────────────

  private async open(unlocked: Unlocked): Promise<void> {
    this.me = unlocked;
    this.history = new History(this.deps.local, unlocked.vaultKey);
    this.device = (await this.deps.local.get('device')) ?? '';
    if (!this.device) {
      this.device = randomHex(8);
      await this.deps.local.set('device', this.device);
    }
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
    await this.sweepExpired();
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
      authenticate: async ({ nonce }): Promise<DirectoryAuthFrame> => ({
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
      authenticate: async (challenge): Promise<AuthFrame | JoinFrame> => {
        const sig = await this.signChallenge(PARTY_ROOM, roomId, challenge.nonce);
        if (rt.record.joining && !rt.roster?.members.has(me.identity.fingerprint)) return this.joinFrame(rt, challenge, sig);
        return {
          type: 'auth',
          fp: me.identity.fingerprint,
          sig,
          ...(rt.record.pendingGenesis ? { genesis: rt.record.pendingGenesis } : {}),
        };
      },
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
    if (error.code === 'removed') {
      await this.withRoom(rt, async () => {
        rt.record.removed = true;
        await this.saveRoom(rt);
      });
      this.emit({ type: 'state' });
      return;
    }
    if (error.code === 'stale-head' && rt.record.joining) {
      rt.conn?.retry();
      return;
    }
    if (rt.record.joining) {
      const code = JOIN_ERRORS[error.code] ?? 'server';
      await this.withRoom(rt, async () => {
        if (rt.record.joining) rt.record.joining = { ...rt.record.joining, state: 'failed', error: { code, message: error.message } };
        await this.saveRoom(rt);
      });
      this.emit({ type: 'state' });
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
        return this.withRoom(rt, () => this.ingest(rt, frame, 'live'));
      case 'history':
        return this.withRoom(rt, () => this.onHistory(rt, frame));
      case 'sync-request':
        return this.withRoom(rt, () => this.onSyncRequest(rt, frame.from, frame.since));
      case 'sync-reply':
        return this.withRoom(rt, async () => {
          for (const envelope of frame.messages) await this.ingest(rt, envelope, 'peer');
          if (rt.record.lastSeq >= rt.serverSeq) rt.syncSince = null;
        });
      case 'ack':
        return this.withRoom(rt, () => this.onAck(rt, frame.id, frame.seq, frame.ts));
      case 'presence': {
        const newcomer = frame.online.some((fp) => !rt.online.has(fp) && fp !== this.fingerprint);
        rt.online = new Set(frame.online);
        // Someone came online who may hold what we missed: ask again.
        if (newcomer && rt.record.mode === 'ephemeral' && (rt.syncSince !== null || Object.keys(rt.record.missing).length)) {
          rt.conn?.send({ type: 'sync-request', since: rt.syncSince ?? Math.max(0, rt.record.lastSeq - MAX_SYNC_MESSAGES) });
        }
        this.emit({ type: 'room', roomId: rt.record.id });
        return;
      }
      case 'error':
        return this.onServerError(rt, frame);
      case 'join-pending':
        return this.withRoom(rt, () => this.setJoinState(rt, frame.reason === 'approval' ? 'pending-approval' : 'waiting-member'));
      case 'escrow':
        return this.withRoom(rt, () => this.onEscrow(rt, frame));
      case 'need-key':
        return this.withRoom(rt, () => this.answerNeedKeys(rt, frame.members));
      case 'epoch':
        return this.withRoom(rt, async () => {
          rt.serverEpoch = frame.epoch;
          const ours = rt.rotation;
          if (ours && ours.epoch === frame.epoch && frame.by === this.fingerprint) {
            rt.record.keys[String(ours.epoch)] = ours.gek;
            await this.saveRoom(rt);
            for (let i = 0; i < ours.rest.length; i += 64) rt.conn?.send({ type: 'keys', keys: ours.rest.slice(i, i + 64) });
            await this.resealOutbox(rt);
          }
          if (ours && ours.epoch <= frame.epoch) rt.rotation = null;
          if (frame.rotationDue) this.rotateIfStillDue(rt);
          this.emit({ type: 'state' });
        });
      case 'join-request':
        return this.withRoom(rt, () => this.onJoinRequest(rt, frame.request, true));
      case 'join-resolved':
        rt.requests.delete(frame.member);
        this.emit({ type: 'state' });
        this.emit({ type: 'room', roomId: rt.record.id });
        return;
    }
  }

  private async onWelcome(rt: RoomRuntime, frame: Extract<RoomServerFrame, { type: 'welcome' }>): Promise<void> {
    const me = this.requireUnlocked();
    let verified;
    try {
      verified = await verifyChainPrefix(rt.record.id, frame.chain);
    } catch (error) {
      this.reject(rt, `membership chain does not verify: ${describe(error)}`);
      return;
    }
    const trusted = frame.chain.slice(0, verified.verified);
    const known = rt.record.chain.length;
    if (!extendsChain(rt.record.chain, trusted)) {
      this.reject(rt, 'the server sent a membership chain that rewrites the one we verified before');
      return;
    }
    if (verified.rejected) this.flagUnverified(rt, verified.rejected.unverified, verified.rejected.reason);
    if (!verified.roster.members.has(me.identity.fingerprint)) {
      this.reject(rt, 'the verified chain does not include us');
      return;
    }
    rt.roster = verified.roster;
    rt.online = new Set(frame.online);
    rt.serverSeq = frame.seq;
    rt.serverEpoch = frame.epoch;
    rt.syncSince = frame.seq > rt.record.lastSeq ? rt.record.lastSeq : null;
    rt.record.chain = trusted;
    rt.record.mode = verified.roster.mode;
    rt.record.pendingGenesis = null;
    if (rt.record.joining && rt.record.joining.state !== 'waiting-member') rt.record.joining = { ...rt.record.joining, state: 'waiting-member' };
    rt.requests.clear();
    for (const request of frame.requests) await this.onJoinRequest(rt, request, false);
    // Settings changed while we were away (not on a first join: the chain's history is not news to a newcomer).
    if (known > 0) for (const record of trusted.slice(known)) await this.noteSettings(rt, record);
    await this.saveRoom(rt);
    for (const item of rt.record.outbox) rt.conn?.send({ type: 'msg', id: item.id, epoch: item.epoch, ct: item.ct });
    await this.answerNeedKeys(rt, frame.needKeys);
    await this.resealOutbox(rt);
    if (frame.rotationDue) this.rotateIfStillDue(rt);
    this.requestCatchUp(rt);
    this.emit({ type: 'room', roomId: rt.record.id });
    this.emit({ type: 'state' });
  }

  /** Hands the room key to members who joined without one, but only to members the chain proves. */
  private async answerNeedKeys(rt: RoomRuntime, fingerprints: string[]): Promise<void> {
    const me = this.requireUnlocked();
    const epoch = currentEpoch(rt.record);
    const gek = rt.record.keys[String(epoch)];
    // Only the key the room is at now helps; an older one would only confuse.
    if (!gek || !rt.roster || epoch !== rt.serverEpoch) return;
    const roster = rt.roster;
    const recipients = [];
    for (const fp of fingerprints) {
      if (fp === me.identity.fingerprint) continue;
      const member = roster.members.get(fp);
      if (!member) {
        this.flagUnverified(rt, [fp], 'the server asked us to hand the room key to someone no admin or link admitted');
        continue;
      }
      const key = await readPublicKey(member.publicKey);
      recipients.push({ fingerprint: fp, key });
      await this.shareEarlierKeys(rt, fp, key);
    }
    if (!recipients.length) return;
    // Sealed once for all of them; several recipients are named by the chain head, one by `to` (see RoomKeyPayload).
    const only = recipients.length === 1 ? recipients[0]?.fingerprint : undefined;
    const payload: RoomKeyPayload = { v: 1, t: 'room-key', room: rt.record.id, epoch, from: me.identity.fingerprint, ...(only ? { to: only } : { head: roster.head }), gek, name: rt.record.name, mode: rt.record.mode };
    const sealed = await sealKeyEnvelopes(utf8(JSON.stringify(payload)), recipients, me.privateKey);
    rt.conn?.send({ type: 'keys', keys: [...sealed].map(([to, ct]) => ({ to, epoch, ct })) });
  }

  /** With "new members can read earlier history" on, a new member also gets the keys of earlier epochs, each encrypted to them. */
  private async shareEarlierKeys(rt: RoomRuntime, fingerprint: string, recipient: Awaited<ReturnType<typeof readPublicKey>>): Promise<void> {
    const me = this.requireUnlocked();
    if (!rt.roster?.settings.shareHistory) return;
    const current = currentEpoch(rt.record);
    const keys = [];
    for (const [epochText, gek] of Object.entries(rt.record.keys)) {
      const epoch = Number(epochText);
      if (epoch >= current) continue;
      const payload: RoomKeyPayload = { v: 1, t: 'room-key', room: rt.record.id, epoch, from: me.identity.fingerprint, to: fingerprint, gek, name: rt.record.name, mode: rt.record.mode };
      keys.push({ to: fingerprint, epoch, ct: await sealKeyEnvelope(utf8(JSON.stringify(payload)), recipient, me.privateKey) });
    }
    for (let i = 0; i < keys.length; i += 64) rt.conn?.send({ type: 'keys', keys: keys.slice(i, i + 64) });
  }

  private flagUnverified(rt: RoomRuntime, fingerprints: string[], reason: string): void {
    for (const fp of fingerprints) if (!rt.roster?.members.has(fp)) rt.unverified.add(fp);
    this.reject(rt, `unverified member: ${reason}`);
    this.emit({ type: 'room', roomId: rt.record.id });
  }

  private async onJoinRequest(rt: RoomRuntime, request: JoinRequest, notify: boolean): Promise<void> {
    const link = rt.roster?.links.get(request.link);
    let name = '';
    try {
      const key = await readPublicKey(request.key);
      if (key.getFingerprint() !== request.fp) throw new Error('key does not match fingerprint');
      if (!link || !(await verifyJoinProof(link.pub, rt.record.id, link.id, request.fp, request.proof))) throw new Error('no proof of the link secret');
      name = displayNameOf(key);
    } catch (error) {
      this.reject(rt, `join request ignored: ${describe(error)}`);
      return;
    }
    rt.requests.set(request.fp, { ...request, name });
    if (notify) this.emit({ type: 'join-request', roomId: rt.record.id, roomName: rt.record.name, name });
    this.emit({ type: 'state' });
    this.emit({ type: 'room', roomId: rt.record.id });
  }

  private async setJoinState(rt: RoomRuntime, state: 'pending-approval' | 'waiting-member'): Promise<void> {
    if (!rt.record.joining) return;
    rt.record.joining = { ...rt.record.joining, state, error: null };
    await this.saveRoom(rt);
    this.emit({ type: 'state' });
  }

  /** The server handed over the escrowed key: unwrap with the link secret, verify the admin's signature. */
  private async onEscrow(rt: RoomRuntime, frame: Extract<RoomServerFrame, { type: 'escrow' }>): Promise<void> {
    const me = this.requireUnlocked();
    const joining = rt.record.joining;
    const link = rt.roster?.links.get(frame.link);
    if (!joining || joining.link !== frame.link || !link) return this.reject(rt, 'escrowed key for a link we did not use');
    const admin = rt.roster?.members.get(link.by);
    if (!admin) return this.reject(rt, 'escrowed key from someone outside the verified membership');
    let payload: EscrowPayload | null;
    try {
      const wrapped = await decryptFor(me.privateKey, frame.ct);
      const { wrapKey } = await deriveLinkKeys(fromBase64Url(joining.secret));
      const plain = await openWithGek(wrapKey, toBase64(wrapped), await readPublicKey(admin.publicKey));
      payload = parsePayload(escrowPayloadSchema, fromUtf8(plain));
    } catch (error) {
      return this.reject(rt, `escrowed key rejected: ${describe(error)}`);
    }
    if (!payload || payload.room !== rt.record.id || payload.link !== frame.link || payload.from !== link.by || payload.epoch !== frame.epoch) {
      return this.reject(rt, 'escrowed key does not match this room, link or epoch');
    }
    rt.record.keys[String(payload.epoch)] = payload.gek;
    if (!rt.record.name) rt.record.name = payload.name;
    rt.record.joining = null;
    await this.saveRoom(rt);
    this.emit({ type: 'state' });
    this.emit({ type: 'room', roomId: rt.record.id });
  }

  private async onChain(rt: RoomRuntime, records: SignedRecord[]): Promise<void> {
    if (!rt.roster) return;
    let roster = rt.roster;
    for (const record of records) {
      try {
        roster = await applyRecord(roster, record, rt.record.id);
      } catch (error) {
        rt.pending.get(record.body)?.reject(new UserFacingError('server', 'the server relayed an invalid record'));
        this.flagUnverified(rt, recordMembers(record), `membership record rejected: ${describe(error)}`);
        break;
      }
      rt.record.chain = [...rt.record.chain, record];
      rt.roster = roster;
      await this.noteSettings(rt, record);
      rt.pending.get(record.body)?.resolve();
      rt.pending.delete(record.body);
      const body = parseRecordBody(record);
      if (body.kind === 'remove' || body.kind === 'leave') {
        if (body.member === this.fingerprint) rt.record.removed = true;
        else await this.maybeRotate(rt, body.kind === 'remove' ? body.by : null);
      }
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
      if (
        !payload ||
        payload.room !== rt.record.id ||
        payload.from !== envelope.from ||
        payload.epoch !== envelope.epoch ||
        !rt.roster ||
        !(await roomKeyIsFor(payload, me.identity.fingerprint, rt.record.chain, rt.roster))
      ) {
        this.reject(rt, 'key envelope does not match this room, epoch or recipient');
        continue;
      }
      const held = rt.record.keys[String(payload.epoch)];
      if (held !== undefined && held !== payload.gek) {
        // The first key for an epoch stays: a member cannot swap another member onto a key of their own.
        this.reject(rt, `a different room key for epoch ${payload.epoch} from ${sender.name}; kept the one already held`);
        acked.push(envelope.kid);
        continue;
      }
      rt.record.keys[String(payload.epoch)] = payload.gek;
      if (!rt.record.name) rt.record.name = payload.name;
      rt.record.joining = null;
      acked.push(envelope.kid);
    }
    await this.saveRoom(rt);
    if (acked.length) rt.conn?.send({ type: 'keys-ack', kids: acked });
    await this.resealOutbox(rt);
    this.emit({ type: 'state' });
  }

  /**
   * Takes in one envelope, live from the server, from the backup, or from a member (peer sync): the same
   * checks for all: a verified sender, their signature inside, the envelope matching what was signed,
   * and a per-device counter that drops duplicates and records gaps.
   */
  private async ingest(rt: RoomRuntime, envelope: Envelope, source: 'live' | 'history' | 'older' | 'peer'): Promise<void> {
    const me = this.requireUnlocked();
    const sender = rt.roster?.members.get(envelope.from);
    if (!sender) return this.reject(rt, `message from ${envelope.from}, who is not in the verified membership`);
    const gek = rt.record.keys[String(envelope.epoch)];
    if (!gek) return this.reject(rt, `no key for epoch ${envelope.epoch}`);
    let payload: TextPayload | null;
    try {
      const plain = await openWithGek(fromBase64(gek), envelope.ct, await readPublicKey(sender.publicKey));
      payload = parsePayload(textPayloadSchema, fromUtf8(plain));
    } catch (error) {
      return this.reject(rt, `message rejected (${source}): ${describe(error)}`);
    }
    if (!payload) return this.reject(rt, 'message payload is malformed');
    if (payload.from !== envelope.from || payload.room !== rt.record.id || payload.epoch !== envelope.epoch || payload.id !== envelope.id) {
      return this.reject(rt, 'message payload does not match its envelope (forged sender, room, epoch or id)');
    }
    rt.record.lastSeq = Math.max(rt.record.lastSeq, envelope.seq);
    rt.serverSeq = Math.max(rt.serverSeq, envelope.seq);
    if (!acceptCounter(rt.record, `${payload.from}:${payload.dev}`, payload.ctr)) {
      await this.saveRoom(rt);
      return; // a replay or a duplicate: already shown
    }
    const mine = envelope.from === me.identity.fingerprint;
    const stored: StoredMessage = {
      ...textMessage(payload, mine ? me.identity.name : sender.name, mine, mine ? 'sent' : 'received', envelope),
      expiresAt: this.expiryFor(rt, payload.ts),
    };
    if (stored.expiresAt !== null && stored.expiresAt <= this.now()) {
      await this.saveRoom(rt);
      return; // arrived after its timer ran out
    }
    if (!mine && source !== 'older') rt.record.unread += 1;
    this.noteLast(rt, stored);
    // Shown before it is written: the write follows in this room's queue, so nothing reads a half-done state,
    // and if the worker dies in between, the message comes back from the backup or a member (lastSeq and
    // the counter were not saved either).
    this.emitMessage(rt, stored);
    await this.requireHistory().append(rt.record, stored);
    if (stored.expiresAt !== null) this.scheduleSweep();
    await this.saveRoom(rt);
  }

  /** After a welcome: catch up on what we missed, from the backup or from online members. */
  private requestCatchUp(rt: RoomRuntime): void {
    if (rt.record.mode === 'backup') rt.conn?.send({ type: 'history', after: rt.record.lastSeq, limit: MAX_PAGE_MESSAGES });
    else rt.conn?.send({ type: 'sync-request', since: rt.record.lastSeq });
  }

  private async onHistory(rt: RoomRuntime, frame: Extract<RoomServerFrame, { type: 'history' }>): Promise<void> {
    for (const envelope of frame.messages) await this.ingest(rt, envelope, frame.direction === 'before' ? 'older' : 'history');
    const last = frame.messages.at(-1);
    if (frame.direction === 'after' && frame.more && last) rt.conn?.send({ type: 'history', after: last.seq, limit: MAX_PAGE_MESSAGES });
    if (frame.direction === 'before') {
      rt.record.oldestLoaded = frame.more ? (frame.messages[0]?.seq ?? rt.record.oldestLoaded) : 0;
      await this.saveRoom(rt);
      rt.olderWaiter?.(frame.messages.length);
    }
  }

  /** A member missed messages: hand them the original envelopes we hold (they verify every signature themselves). */
  private async onSyncRequest(rt: RoomRuntime, from: string, since: number): Promise<void> {
    if (!rt.roster?.members.has(from)) return this.reject(rt, 'sync request from someone outside the verified membership');
    const envelopes = await this.requireHistory().envelopesSince(rt.record, since, MAX_SYNC_MESSAGES);
    let chunk: Envelope[] = [];
    let size = 0;
    const flush = () => {
      if (chunk.length) rt.conn?.send({ type: 'sync-reply', to: from, messages: chunk });
      chunk = [];
      size = 0;
    };
    for (const envelope of envelopes) {
      const bytes = envelope.ct.length + 300;
      if (size + bytes > SYNC_FRAME_BUDGET || chunk.length >= MAX_PAGE_MESSAGES) flush();
      chunk.push(envelope);
      size += bytes;
    }
    flush();
  }

  /** Backup rooms: fetch the page of messages before the oldest we hold. Resolves with how many arrived. */
  async loadOlder(roomId: string): Promise<number> {
    this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (rt.record.mode !== 'backup' || rt.record.oldestLoaded === 0) return 0;
    const before = rt.record.oldestLoaded ?? (await this.oldestSeq(rt));
    if (!before || before <= 1) return 0;
    if (rt.conn?.status !== 'ready') throw new UserFacingError('offline', 'older messages come from the server; connect first');
    rt.olderWaiter?.(0);
    return new Promise<number>((resolve) => {
      const timer = setTimeout(() => finish(0), LOAD_OLDER_TIMEOUT_MS);
      const finish = (count: number) => {
        clearTimeout(timer);
        if (rt.olderWaiter === finish) rt.olderWaiter = null;
        resolve(count);
      };
      rt.olderWaiter = finish;
      rt.conn?.send({ type: 'history', before, limit: MAX_PAGE_MESSAGES });
    });
  }

  private async oldestSeq(rt: RoomRuntime): Promise<number | null> {
    return this.requireHistory().firstSeq(rt.record);
  }

  /** Deletes messages whose disappearing timer ran out, in every room; also run after the worker slept. */
  async sweepExpired(): Promise<void> {
    if (!this.me) return;
    for (const rt of this.rooms.values()) {
      await this.withRoom(rt, async () => {
        const ids = await this.requireHistory().removeExpired(rt.record, this.now());
        if (!ids.length) return;
        this.emit({ type: 'expired', roomId: rt.record.id, ids });
        await this.saveRoom(rt);
      });
    }
    this.scheduleSweep();
  }

  private scheduleSweep(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    let next = Infinity;
    for (const rt of this.rooms.values()) for (const due of rt.record.pageExpiry) if (due !== null && due < next) next = due;
    if (next === Infinity) return;
    this.sweepTimer = setTimeout(() => void this.sweepExpired(), Math.max(0, Math.min(next - this.now(), 2 ** 31 - 1)) + 50);
  }

  /** A message disappears by the timer that was in force when it was sent, not by one set later. */
  private expiryFor(rt: RoomRuntime, ts: number): number | null {
    let ms: number | null = null;
    for (const change of this.timerChanges(rt)) if (change.ts <= ts) ms = change.ms;
    return ms === null ? null : ts + ms;
  }

  /** The room's disappearing-timer changes in chain order, parsed once per chain length. */
  private timerChanges(rt: RoomRuntime): Array<{ ts: number; ms: number | null }> {
    if (rt.timers?.length !== rt.record.chain.length) {
      const changes = rt.record.chain.flatMap((record) => {
        const body = parseRecordBody(record);
        return body.kind === 'settings' ? [{ ts: body.ts, ms: body.settings.disappearMs }] : [];
      });
      rt.timers = { length: rt.record.chain.length, changes };
    }
    return rt.timers.changes;
  }

  /** Admins change the disappearing timer (and backup retention); every member sees it as a signed event. */
  async setRoomSettings(roomId: string, settings: RoomSettings): Promise<RoomDetail> {
    const rt = this.requireAdminRoom(roomId);
    const parsed = roomSettingsSchema.safeParse(settings);
    if (!parsed.success || (parsed.data.disappearMs !== null && !DISAPPEAR_CHOICES_MS.includes(parsed.data.disappearMs as never))) {
      throw new UserFacingError('invalid-input', 'unsupported room settings');
    }
    await this.appendChange<'settings'>(rt, { kind: 'settings', settings: parsed.data });
    return this.getRoom(roomId);
  }

  /** Shows a settings change in the chat, once per record. */
  private async noteSettings(rt: RoomRuntime, record: SignedRecord): Promise<void> {
    const body = parseRecordBody(record);
    if (body.kind !== 'settings') return;
    const by = rt.roster?.members.get(body.by);
    const stored: StoredMessage = {
      id: (await sha256Hex(record.body)).slice(0, 32),
      from: body.by,
      fromName: by?.name ?? '',
      text: '',
      ts: body.ts,
      // Placed after the last message we had when the change arrived.
      seq: rt.record.lastSeq,
      mine: body.by === this.fingerprint,
      status: 'received',
      kind: 'event',
      event: { type: 'settings', settings: body.settings, by: body.by, byName: by?.name ?? '' },
      env: null,
      expiresAt: null,
    };
    await this.requireHistory().append(rt.record, stored);
    this.emitMessage(rt, stored);
  }

  private async onAck(rt: RoomRuntime, id: string, seq: number, ts: number): Promise<void> {
    const item = rt.record.outbox.find((o) => o.id === id);
    if (!item) return;
    rt.record.outbox = rt.record.outbox.filter((o) => o.id !== id);
    rt.record.lastSeq = Math.max(rt.record.lastSeq, seq);
    const me = this.requireUnlocked();
    const env: Envelope = { seq, id, epoch: item.epoch, from: me.identity.fingerprint, ts, ct: item.ct };
    let updated = await this.requireHistory().update(rt.record, id, { status: 'sent', seq, env });
    if (!updated && item.unwritten) updated = await this.restoreSent(rt, env);
    await this.saveRoom(rt);
    if (updated) this.emitMessage(rt, updated);
  }

  /**
   * A message of ours the server acknowledged that is not in our history: the worker stopped after the frame
   * left and before the page was written (see `sendMessage`). It is rebuilt from our own envelope.
   */
  private async restoreSent(rt: RoomRuntime, env: Envelope): Promise<StoredMessage | null> {
    const me = this.requireUnlocked();
    const gek = rt.record.keys[String(env.epoch)];
    const plain = gek ? await openWithGek(fromBase64(gek), env.ct, me.privateKey.toPublic()).catch(() => null) : null;
    const payload = plain ? parsePayload(textPayloadSchema, fromUtf8(plain)) : null;
    if (!payload || payload.id !== env.id) return null;
    const stored: StoredMessage = { ...textMessage(payload, me.identity.name, true, 'sent', env), expiresAt: this.expiryFor(rt, payload.ts) };
    if (stored.expiresAt !== null && stored.expiresAt <= this.now()) return null;
    await this.requireHistory().append(rt.record, stored);
    if (stored.expiresAt !== null) this.scheduleSweep();
    return stored;
  }

  private onServerError(rt: RoomRuntime, frame: ErrorFrame): void {
    console.warn(`room ${rt.record.id} error:`, frame.code, frame.message);
    if (frame.code === 'bad-epoch' && frame.ref) void this.withRoom(rt, () => this.resealOutbox(rt));
    // Over the server's rate: what was dropped is still in the outbox; send it again shortly (the server drops duplicates).
    if (frame.code === 'rate-limited' && !rt.resendTimer) {
      rt.resendTimer = setTimeout(() => {
        rt.resendTimer = null;
        for (const item of rt.record.outbox) rt.conn?.send({ type: 'msg', id: item.id, epoch: item.epoch, ct: item.ct });
      }, RESEND_AFTER_MS);
    }
    // A refused change fails the oldest change still waiting for confirmation.
    const first = rt.pending.entries().next();
    if (!first.done && ['bad-record', 'forbidden', 'room-full', 'bad-frame', 'stale-head'].includes(frame.code)) {
      const [body, change] = first.value;
      rt.pending.delete(body);
      change.reject(new UserFacingError(frame.code === 'forbidden' ? 'not-admin' : 'server', frame.message));
    }
  }

  /** Sends a signed membership change and waits for the server to relay it back (or refuse it). */
  private awaitChange(rt: RoomRuntime, record: SignedRecord, frame: AppendFrame): Promise<void> {
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

  private async joinCapturedLink(): Promise<void> {
    const url = await this.deps.session.get('capturedLink');
    if (!url) return;
    await this.deps.session.remove('capturedLink');
    try {
      await this.joinByLink(url);
    } catch (error) {
      console.warn('could not join the captured link', error);
    }
  }

  /** The join frame a link joiner answers the challenge with: key, proof of the link secret, and a self-signed join record. */
  private async joinFrame(rt: RoomRuntime, challenge: Challenge, sig: string): Promise<JoinFrame> {
    const me = this.requireUnlocked();
    const joining = rt.record.joining as NonNullable<RoomRecord['joining']>;
    const keys = await deriveLinkKeys(fromBase64Url(joining.secret));
    const proof = await signJoinProof(keys, rt.record.id, joining.link, me.identity.fingerprint);
    const head = challenge.head ?? '';
    const body = {
      v: 1,
      kind: 'join',
      room: rt.record.id,
      prev: head,
      by: me.identity.fingerprint,
      ts: this.now(),
      member: me.identity.fingerprint,
      key: me.identity.publicKey,
      link: joining.link,
      proof,
    };
    const text = JSON.stringify(body);
    const record = { body: text, sig: await signDetached(me.privateKey, utf8(text)) };
    return { type: 'join', fp: me.identity.fingerprint, sig, key: me.identity.publicKey, link: joining.link, proof, record };
  }

  private async appendChange<K extends 'link-revoke' | 'links-reset' | 'ban' | 'unban' | 'grant' | 'settings' | 'remove'>(rt: RoomRuntime, fields: RecordFields<K>): Promise<void> {
    const record = await createRecord<K>(rt.roster as Roster, fields, this.requireUnlocked().privateKey, this.now());
    await this.awaitChange(rt, record, { type: 'append', record });
  }

  private async linkView(rt: RoomRuntime, link: LinkState): Promise<LinkView> {
    const secret = rt.record.linkSecrets[link.id];
    return {
      id: link.id,
      url: secret ? formatLink(this.host.host, this.host.secure, rt.record.id, link.id, fromBase64Url(secret)) : null,
      label: await this.linkLabel(rt, link),
      approval: link.approval,
      escrow: link.escrow,
      expires: link.expires,
      maxUses: link.maxUses,
      uses: link.uses,
      active: link.active && (link.expires === null || link.expires > this.now()) && (link.maxUses === null || link.uses < link.maxUses),
      createdBy: rt.roster?.members.get(link.by)?.name ?? '',
      createdAt: link.createdAt,
    };
  }

  /** Decrypts a link's label (sealed and signed with the room key by the admin who made it). */
  private async linkLabel(rt: RoomRuntime, link: LinkState | undefined): Promise<string | null> {
    const author = link ? rt.roster?.members.get(link.by) : undefined;
    const gek = rt.record.keys[String(currentEpoch(rt.record))];
    if (!link?.label || !author || !gek) return null;
    try {
      return fromUtf8(await openWithGek(fromBase64(gek), link.label, await readPublicKey(author.publicKey)));
    } catch {
      return null;
    }
  }

  private requireLinkCreatorRoom(roomId: string): RoomRuntime {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (!rt.roster) throw new UserFacingError('offline', 'the room has not been verified yet; try again once connected');
    if (!rt.roster.members.get(me.identity.fingerprint)?.canCreateLinks) {
      throw new UserFacingError('not-admin', 'only admins, and members they allowed, can create invite links');
    }
    return rt;
  }

  private requireAdminRoom(roomId: string): RoomRuntime {
    const me = this.requireUnlocked();
    const rt = this.requireRoom(roomId);
    if (!rt.roster) throw new UserFacingError('offline', 'the room has not been verified yet; try again once connected');
    if (rt.roster.members.get(me.identity.fingerprint)?.role !== 'admin') throw new UserFacingError('not-admin', 'only admins can do this');
    return rt;
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
    const rt: RoomRuntime = {
      record: { ...emptyRoom(record.id, record.mode, record.createdAt), ...record },
      roster: null,
      conn: null,
      online: new Set(),
      queue: Promise.resolve(),
      pending: new Map(),
      unverified: new Set(),
      requests: new Map(),
      olderWaiter: null,
      syncSince: null,
      serverSeq: 0,
      serverEpoch: 0,
      rotation: null,
      timers: null,
      resendTimer: null,
    };
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
      hasKey: !r.removed && r.keys[String(Math.max(currentEpoch(r), rt.serverEpoch))] !== undefined,
      removed: r.removed,
      joinState: r.joining?.state ?? null,
      joinError: r.joining?.error ?? null,
      requests: rt.requests.size,
      missing: Object.values(r.missing).reduce((n, list) => n + list.length, 0),
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
    missing: {},
    lastSeq: 0,
    unread: 0,
    lastText: null,
    lastTs: null,
    pages: 0,
    pageExpiry: [],
    oldestLoaded: null,
    outbox: [],
    joining: null,
    linkSecrets: {},
    removed: false,
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
  return {
    id: m.id,
    roomId,
    from: m.from,
    fromName: m.fromName,
    text: m.text,
    ts: m.ts,
    mine: m.mine,
    status: m.status,
    seq: m.seq,
    kind: m.kind ?? 'text',
    event: m.event ? { type: 'settings', settings: m.event.settings, byName: m.event.byName } : null,
    expiresAt: m.expiresAt ?? null,
  };
}

function textMessage(payload: TextPayload, fromName: string, mine: boolean, status: StoredMessage['status'], env: Envelope | null): Omit<StoredMessage, 'expiresAt'> {
  return { id: payload.id, from: payload.from, fromName, text: payload.text, ts: payload.ts, seq: env?.seq ?? null, mine, status, kind: 'text', event: null, env };
}

/** Most counters remembered as missing per sender device. */
const MAX_MISSING = 1000;

/**
 * Decides whether a counter is new for a sender device: above the highest seen (noting any skipped as
 * missing), or one of the missing. The first message seen from a device sets its baseline.
 */
function acceptCounter(record: RoomRecord, key: string, ctr: number): boolean {
  const max = record.peerCtr[key];
  if (max === undefined || ctr > max) {
    if (max !== undefined && ctr > max + 1) {
      const skipped = Array.from({ length: Math.min(ctr - max - 1, MAX_MISSING) }, (_, i) => ctr - 1 - i);
      record.missing[key] = [...(record.missing[key] ?? []), ...skipped].slice(-MAX_MISSING);
    }
    record.peerCtr[key] = ctr;
    return true;
  }
  const missing = record.missing[key];
  const index = missing?.indexOf(ctr) ?? -1;
  if (!missing || index < 0) return false;
  missing.splice(index, 1);
  if (!missing.length) delete record.missing[key];
  return true;
}

/** localhost and 127.0.0.1 name the same machine; otherwise hosts must match exactly. */
function sameHost(a: string, b: string): boolean {
  const local = (h: string) => h.replace(/^(localhost|127\.0\.0\.1|\[::1\])(?=:|$)/, 'loopback');
  return local(a.toLowerCase()) === local(b.toLowerCase());
}

/** Members a (possibly invalid) record claims to add. */
function recordMembers(record: SignedRecord): string[] {
  try {
    const body = parseRecordBody(record);
    return 'member' in body ? [body.member] : [];
  } catch {
    return [];
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
