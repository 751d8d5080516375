/**
 * The messenger's core as the request handler and the tests see it, run by the background worker (and
 * by Node clients in tests). A facade: it keeps the vault, the server address and the open rooms, checks
 * each request's arguments, and hands the work to one module per concern (services/room/*, directory.ts).
 * Every dependency (storage, sockets, fetch, clock, UI push) comes in through `ChatDeps`.
 */
import { MAX_NAME_CHARS } from '@/shared/constants';
import { CryptoError, formatContactCode, parseContactCode } from '@/shared/crypto';
import { parseLink } from '@/shared/links';
import type { RoomSettings } from '@/shared/membership';
import type { InviteNotice, RoomMode } from '@/shared/protocol';
import type {
  AppState,
  CreateLinkOptions,
  IdentityExport,
  InvitationDecision,
  LinkPreviewView,
  LinkView,
  MemberView,
  MessageView,
  PushEvent,
  RoomDetail,
  RoomSummary,
  SendOptions,
} from '@/utils/protocol-map';
import { connectDirectory, lookupKey, sendInvitation, type DirectoryConnection } from './directory';
import { UserFacingError } from './errors';
import { formatHost } from './host';
import { adoptIdentity, exportIdentity } from './identity';
import { Contacts } from './contacts';
import { checkNotice, Invitations } from './invitations';
import { migrateStore } from './migrations';
import { Quarantine } from './quarantine';
import { openContext, type ChatDeps, type RoomContext } from './room/context';
import { Sweeper } from './room/expiry';
import * as links from './room/links';
import * as membership from './room/membership';
import * as messages from './room/messages';
import { setMuted } from './room/preferences';
import { askPreview, previewView } from './room/preview';
import { connectRoom } from './room/router';
import { RoomRegistry } from './room/registry';
import { emptyRoom, type RoomSession } from './room/session';
import { roomDetail, summaries, summary } from './room/views';
import { Settings } from './settings';
import { Vault, type Unlocked } from './vault';

export type { ChatDeps } from './room/context';

/** How long onboarding waits for the server to accept our published key before returning anyway. */
const PUBLISH_WAIT_MS = 5_000;

export class ChatService {
  private readonly vault: Vault;
  private readonly now: () => number;
  /** The server address and the notification preview setting, stored. */
  private readonly settings: Settings;
  /** Set while unlocked: who we are, this device, history; handed to the room modules. */
  private ctx: RoomContext | null = null;
  private sweeper: Sweeper | null = null;
  private readonly rooms: RoomRegistry;
  /** Invitation requests, and the senders accepted or blocked. */
  private readonly invitations: Invitations;
  /** Pinned keys, verified marks and key warnings. */
  private readonly contacts: Contacts;
  /** Stored items that could not be read, moved aside. */
  private readonly quarantine: Quarantine;
  private directory: DirectoryConnection | null = null;
  private started: Promise<void> | null = null;

  constructor(private readonly deps: ChatDeps) {
    this.vault = new Vault(deps.local, deps.session);
    this.now = deps.now ?? Date.now;
    this.contacts = new Contacts(deps.local, this.now, (fps) => this.tellRoomsOf(fps));
    this.rooms = new RoomRegistry(
      deps.local,
      (_roomId, roster) => {
        if (this.ctx) this.contacts.seeRoster(this.ctx.me, roster).catch((error: unknown) => console.warn('could not pin contacts', error));
      },
      (fingerprint) => this.contacts.nameOf(fingerprint),
    );
    this.invitations = new Invitations(deps.local);
    this.quarantine = new Quarantine(deps.local, this.now, (roomId) => this.onQuarantined(roomId));
    this.settings = new Settings(deps.local, deps.defaultHost);
  }

  /**
   * Migrates the stored data as far as it can while locked (a store from a newer release is refused, untouched),
   * restores settings and, if the session is still unlocked (worker restart), reconnects everything. Idempotent.
   */
  start(): Promise<void> {
    this.started ??= (async () => {
      await migrateStore(this.deps.local, null, this.deps.storeLayout);
      await this.settings.load();
      const unlocked = await this.vault.resume();
      if (unlocked) await this.open(unlocked);
    })();
    return this.started;
  }

  /** Re-establishes connections that died (called from the keep-alive alarm). */
  async ensureConnected(): Promise<void> {
    await this.start();
    const ctx = this.ctx;
    if (!ctx) return;
    if (!this.directory || this.directory.status === 'closed') this.connectDirectory(ctx);
    for (const s of this.rooms.values()) if (!s.conn || s.conn.status === 'closed') connectRoom(ctx, s);
  }

  get fingerprint(): string | null {
    return this.ctx?.me.identity.fingerprint ?? null;
  }

  async getState(): Promise<AppState> {
    await this.start();
    const identity = await this.vault.identity();
    const phase = !identity ? 'onboard' : this.ctx ? 'ready' : 'locked';
    return {
      phase,
      me: identity && this.ctx ? { fingerprint: identity.fingerprint, name: identity.name, contactCode: formatContactCode(identity.fingerprint) } : null,
      host: formatHost(this.settings.host),
      rooms: this.ctx ? summaries(this.rooms.values()) : [],
      invitations: this.ctx ? this.invitations.views() : [],
      notificationPreviews: this.settings.previews,
      capturedLink: (await this.deps.session.get('capturedLink')) ?? null,
      unreadableRooms: this.ctx ? this.quarantine.unreadableRooms() : 0,
    };
  }

  async onboard(name: string, passphrase: string, host?: string): Promise<AppState> {
    await this.start();
    if (await this.vault.identity()) throw new UserFacingError('invalid-input', 'an identity already exists in this browser');
    const cleanName = name.trim();
    if (!cleanName || cleanName.length > MAX_NAME_CHARS) throw new UserFacingError('invalid-input', `name must be 1–${MAX_NAME_CHARS} characters`);
    if (passphrase.length < 8) throw new UserFacingError('invalid-input', 'passphrase must be at least 8 characters');
    if (host !== undefined) await this.settings.setHost(host);
    await this.open(await this.vault.create(cleanName, passphrase, this.now()));
    // Publishing our key lets others invite us right away; offline, it happens on the next connection.
    await this.directory?.whenReady(PUBLISH_WAIT_MS);
    return this.getState();
  }

  async unlock(passphrase: string): Promise<AppState> {
    await this.start();
    if (!(await this.vault.identity())) throw new UserFacingError('invalid-input', 'create an identity first');
    if (this.ctx) return this.getState();
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
    this.rooms.clear();
    this.invitations.clear();
    this.contacts.clear();
    this.quarantine.clear();
    this.ctx = null;
    this.sweeper = null;
    await this.vault.lock();
    this.emit({ type: 'state' });
    return this.getState();
  }

  async setHost(input: string): Promise<AppState> {
    await this.settings.setHost(input);
    const ctx = this.ctx;
    if (ctx) {
      this.closeAll();
      this.connectAll(ctx);
    }
    this.emit({ type: 'state' });
    return this.getState();
  }

  async createRoom(name: string, mode: RoomMode): Promise<RoomSummary> {
    const ctx = this.requireContext();
    const { record, roster } = await membership.newRoom(ctx, name, mode);
    const s = this.rooms.add(ctx, record);
    s.adoptChain(record.chain, roster);
    await this.startRoom(ctx, s);
    return summary(s);
  }

  async getRoom(roomId: string): Promise<RoomDetail> {
    return roomDetail(this.requireContext(), this.rooms.require(roomId), this.contacts);
  }

  async listMessages(roomId: string, limit = 100, beforeId?: string): Promise<MessageView[]> {
    return messages.listMessages(this.requireContext(), this.rooms.require(roomId), limit, beforeId);
  }

  async sendMessage(roomId: string, text: string, options: SendOptions = {}): Promise<MessageView> {
    return messages.sendMessage(this.requireContext(), this.rooms.require(roomId), text, options);
  }

  /** Our reaction to a message ('' takes it back). */
  async react(roomId: string, messageId: string, emoji: string): Promise<MessageView> {
    return messages.react(this.requireContext(), this.rooms.require(roomId), messageId, emoji);
  }

  /** Changes one of our own messages for everyone. */
  async editMessage(roomId: string, messageId: string, text: string): Promise<MessageView> {
    return messages.editMessage(this.requireContext(), this.rooms.require(roomId), messageId, text);
  }

  /** Sends a failed message of ours again (same id). */
  async retryMessage(roomId: string, messageId: string): Promise<MessageView> {
    return messages.retryMessage(this.requireContext(), this.rooms.require(roomId), messageId);
  }

  /** Gives up on a failed message of ours. */
  async discardMessage(roomId: string, messageId: string): Promise<void> {
    return messages.discardMessage(this.requireContext(), this.rooms.require(roomId), messageId);
  }

  /** Deletes one of our own messages for everyone. */
  async deleteMessage(roomId: string, messageId: string): Promise<MessageView> {
    return messages.deleteMessage(this.requireContext(), this.rooms.require(roomId), messageId);
  }

  /** Adds the person behind a contact code to the room and sends them the room key. Resolves once the server has recorded it. */
  async inviteContact(roomId: string, code: string): Promise<MemberView> {
    const ctx = this.requireContext();
    const s = this.rooms.require(roomId);
    const fingerprint = parseContactCode(code);
    if (!fingerprint) throw new UserFacingError('invalid-input', 'a contact code is 40 hexadecimal characters');
    membership.checkInvite(ctx, s, fingerprint);
    const publicKey = await this.contacts.lookup(ctx.me, fingerprint, (fp) => lookupKey(this.deps.fetch, this.settings.host, fp));
    await membership.addMember(ctx, s, fingerprint, publicKey);
    // We chose them: their invitations to us join by themselves. They hear of ours through a notice we sign.
    await this.invitations.accept(ctx.me, fingerprint);
    try {
      await sendInvitation(ctx, this.deps.fetch, { fingerprint, publicKey }, { id: roomId, name: s.record.name });
    } catch (error) {
      console.warn('the invitee was added but not told', error);
    }
    const member = (await this.getRoom(roomId)).members.find((m) => m.fingerprint === fingerprint);
    if (!member) throw new UserFacingError('server', 'the server did not record the new member');
    return member;
  }

  /** Answers an invitation request: accept joins the room (and trusts the sender's later invitations), decline drops it, block drops all of the sender's. */
  async decideInvitation(roomId: string, decision: InvitationDecision): Promise<AppState> {
    const ctx = this.requireContext();
    const request = this.invitations.request(roomId);
    if (!request) throw new UserFacingError('no-room', 'this invitation is no longer waiting');
    if (decision === 'accept') {
      await this.invitations.accept(ctx.me, request.by, roomId);
      await this.joinInvited(ctx, roomId);
    } else if (decision === 'block') {
      await this.invitations.block(ctx.me, request.by);
    } else {
      await this.invitations.drop(ctx.me, roomId);
    }
    this.emit({ type: 'state' });
    return this.getState();
  }

  /** Creates an invite link: a signed link record, plus the room key escrowed under the link secret if asked. */
  async createLink(roomId: string, options: CreateLinkOptions): Promise<LinkView> {
    const id = await links.createLink(this.requireContext(), this.rooms.require(roomId), options);
    const view = (await this.listLinks(roomId)).find((l) => l.id === id);
    if (!view) throw new UserFacingError('server', 'the server did not record the link');
    return view;
  }

  /** Admins see every link; a member allowed to create links sees their own. */
  async listLinks(roomId: string): Promise<LinkView[]> {
    return links.listLinks(this.requireContext(), this.rooms.require(roomId));
  }

  async revokeLink(roomId: string, linkId: string): Promise<LinkView[]> {
    await links.revokeLink(this.requireContext(), this.rooms.require(roomId), linkId);
    return this.listLinks(roomId);
  }

  /** Kills every link of the room at once; the server deletes their escrowed keys. */
  async resetLinks(roomId: string): Promise<LinkView[]> {
    await links.resetLinks(this.requireContext(), this.rooms.require(roomId));
    return this.listLinks(roomId);
  }

  /**
   * What a pasted or captured link says about its room, before joining. Asked over a connection of its own that
   * proves only the link secret: the room learns nothing about who looks (see room/preview.ts).
   */
  async previewLink(url: string): Promise<LinkPreviewView> {
    await this.start();
    const link = links.parseJoinLink(url, this.settings.host);
    const held = this.ctx ? this.rooms.get(link.room) : undefined;
    if (held && !held.record.joining) {
      return { roomId: held.id, roomName: held.record.name, createdBy: null, approval: false, members: held.roster?.members.size ?? 0, sealed: false, member: true };
    }
    return previewView(link, await askPreview(this.deps.openSocket, this.settings.host, link));
  }

  /** Joins through a link the person confirmed after its preview; progress shows in the room's `joinState`. */
  async joinByLink(url: string): Promise<RoomSummary> {
    const ctx = this.requireContext();
    const link = links.parseJoinLink(url, this.settings.host);
    await this.forgetCapturedLink(url);
    const existing = this.rooms.get(link.room);
    if (existing && !existing.record.joining) return summary(existing);
    const s = existing ?? this.rooms.add(ctx, emptyRoom(link.room, 'ephemeral', this.now()));
    links.beginJoin(s, link);
    await this.startRoom(ctx, s);
    return summary(s);
  }

  /**
   * A link opened in a tab (the join page hands it over): kept, never joined, until the person has seen its preview
   * and confirmed it (`joinByLink`) or dismissed it; while locked it waits for the unlock and then for that answer.
   */
  async captureLink(url: string): Promise<void> {
    await this.start();
    if (!parseLink(url)) throw new UserFacingError('not-a-link', 'this is not a PartyChat invite link (or its # part is missing)');
    await this.deps.session.set('capturedLink', url);
    this.emit({ type: 'state' });
  }

  /** Forgets a captured link the person did not want. */
  async dismissLink(url: string): Promise<AppState> {
    await this.forgetCapturedLink(url);
    this.emit({ type: 'state' });
    return this.getState();
  }

  setLinkPermission(roomId: string, fingerprint: string, allowed: boolean): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.setLinkPermission(ctx, s, fingerprint, allowed));
  }

  unban(roomId: string, fingerprint: string): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.unban(ctx, s, fingerprint));
  }

  approveRequest(roomId: string, fingerprint: string): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.approveRequest(ctx, s, fingerprint));
  }

  denyRequest(roomId: string, fingerprint: string): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.denyRequest(ctx, s, fingerprint));
  }

  /** Bans someone asking to join: their requests are refused from now on. */
  banRequester(roomId: string, fingerprint: string): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.banRequester(ctx, s, fingerprint));
  }

  /** Admins change the disappearing timer (and backup retention); every member sees it as a signed event. */
  setRoomSettings(roomId: string, settings: RoomSettings): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.setSettings(ctx, s, settings));
  }

  /** Makes a member an admin, or takes an admin's rights away. */
  setMemberRole(roomId: string, fingerprint: string, role: 'admin' | 'member'): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.setRole(ctx, s, fingerprint, role));
  }

  /**
   * Marks a member of this room verified after comparing safety numbers, or takes the mark back. Verifying also
   * accepts their key as it is now and clears a key warning (see services/contacts.ts).
   */
  setContactVerified(roomId: string, fingerprint: string, verified: boolean): Promise<RoomDetail> {
    return this.detailAfter(roomId, async (ctx, s) => {
      if (fingerprint === ctx.me.identity.fingerprint || !s.roster?.members.has(fingerprint)) {
        throw new UserFacingError('invalid-input', 'only another verified member of this room can be marked verified');
      }
      await this.contacts.seeRoster(ctx.me, s.roster);
      await this.contacts.setVerified(ctx.me, fingerprint, verified);
      this.tellRoomsOf([fingerprint]);
    });
  }

  /** Removes a member; we then start the next key epoch, which they never receive. */
  removeMember(roomId: string, fingerprint: string): Promise<RoomDetail> {
    return this.detailAfter(roomId, (ctx, s) => membership.removeMember(ctx, s, fingerprint));
  }

  /** Leaves a room (the remaining members move to a new key) and forgets it in this browser; the last admin names a successor. */
  async leaveRoom(roomId: string, successor?: string): Promise<AppState> {
    await membership.leave(this.requireContext(), this.rooms.require(roomId), successor);
    return this.forgetRoom(roomId);
  }

  /** Drops a room we are not a member of (a failed or abandoned join): its connection, record and history. */
  async forgetRoom(roomId: string): Promise<AppState> {
    const ctx = this.requireContext();
    const s = this.rooms.require(roomId);
    if (s.roster?.members.has(ctx.me.identity.fingerprint) && !s.record.joining && !s.record.removed) {
      throw new UserFacingError('invalid-input', 'leave the room first (Leave), then it can be removed from this browser');
    }
    await this.rooms.forget(ctx, s);
    this.emit({ type: 'state' });
    return this.getState();
  }

  /** Packs the identity, rooms and room keys for another browser, encrypted with the passphrase (which must unlock the identity). */
  async exportIdentity(passphrase: string): Promise<IdentityExport> {
    this.requireContext();
    return exportIdentity(this.vault, this.rooms, this.settings, passphrase);
  }

  /** Sets this browser up with an identity exported elsewhere; backup rooms refill from the server. */
  async importIdentity(content: string, passphrase: string, host?: string): Promise<AppState> {
    await this.start();
    await this.open(await adoptIdentity(this.vault, this.rooms, this.settings, { content, passphrase, host }, this.now()));
    return this.getState();
  }

  /** Mutes or unmutes a room's notifications (stored in the room's record, in this browser only). */
  async setRoomMuted(roomId: string, muted: boolean): Promise<RoomSummary> {
    return setMuted(this.requireContext(), this.rooms.require(roomId), muted);
  }

  /** Dismisses the room's "N messages could not be read" notice; what was moved aside stays aside. */
  async dismissUnreadable(roomId: string): Promise<RoomSummary> {
    const s = this.rooms.require(roomId);
    await this.quarantine.dismiss(roomId);
    s.unreadable = this.quarantine.unreadable(roomId);
    s.unreadableWire.clear();
    const view = summary(s);
    this.emit({ type: 'summary', room: view });
    return view;
  }

  /** Dismisses the notice of rooms whose record could not be read. */
  async dismissUnreadableRooms(): Promise<AppState> {
    this.requireContext();
    await this.quarantine.dismissRooms();
    this.emit({ type: 'state' });
    return this.getState();
  }

  get notificationPreviews(): boolean {
    return this.settings.previews;
  }

  isMuted(roomId: string): boolean {
    return this.rooms.get(roomId)?.record.muted === true;
  }

  async setNotificationPreviews(enabled: boolean): Promise<AppState> {
    await this.start();
    await this.settings.setPreviews(enabled);
    this.emit({ type: 'state' });
    return this.getState();
  }

  async markRead(roomId: string): Promise<void> {
    await messages.markRead(this.requireContext(), this.rooms.require(roomId));
  }

  /** Backup rooms: fetch the page of messages before the oldest we hold. Resolves with how many arrived. */
  async loadOlder(roomId: string): Promise<number> {
    return messages.loadOlder(this.requireContext(), this.rooms.require(roomId));
  }

  /** Deletes messages whose disappearing timer ran out, in every room; also run after the worker slept. */
  async sweepExpired(): Promise<void> {
    await this.sweeper?.sweep();
  }

  totalUnread(): number {
    return this.rooms.totalUnread();
  }

  /** Pending join requests across the rooms we administer. */
  totalRequests(): number {
    return this.rooms.totalRequests();
  }

  /** Resolves once the work already queued for every room has finished, writes included (a message is shown before it is written). */
  settled(): Promise<void> {
    return this.rooms.settled();
  }

  /** Closes every connection (tests, and the worker shutting down). */
  closeAll(): void {
    this.directory?.close();
    this.directory = null;
    this.sweeper?.stop();
    this.rooms.disconnectAll();
  }

  // ── the unlocked session ──────────────────────────────────────────────────

  private async open(unlocked: Unlocked): Promise<void> {
    // The migrations that open sealed records run now, before anything reads them.
    await migrateStore(this.deps.local, unlocked.vaultKey, this.deps.storeLayout);
    const hooks = { now: this.now, host: () => this.settings.host, scheduleSweep: () => this.sweeper?.schedule() };
    const ctx = await openContext(this.deps, unlocked, hooks, this.quarantine);
    this.ctx = ctx;
    this.sweeper = new Sweeper(() => this.rooms.values(), ctx.history, this.now, ctx.emit);
    await this.quarantine.load();
    await this.contacts.load(unlocked, this.quarantine);
    await this.rooms.load(ctx, this.quarantine);
    for (const s of this.rooms.values()) s.unreadable = this.quarantine.unreadable(s.id);
    await this.invitations.load(unlocked, this.quarantine);
    this.connectAll(ctx);
    await this.sweeper.sweep();
    this.emit({ type: 'state' });
  }

  private connectDirectory(ctx: RoomContext): void {
    this.directory?.close();
    this.directory = connectDirectory(ctx, (notice) => this.onInvitation(ctx, notice));
  }

  private connectAll(ctx: RoomContext): void {
    this.connectDirectory(ctx);
    for (const s of this.rooms.values()) connectRoom(ctx, s);
  }

  /**
   * A notice from our directory. Dropped: a room we hold, a blocked sender, a signature that does not verify with
   * the sender's published key. A contact's joins at once; anyone else's waits as a request, connecting nowhere.
   */
  private async onInvitation(ctx: RoomContext, notice: InviteNotice): Promise<void> {
    if (this.rooms.get(notice.room) || this.invitations.isBlocked(notice.by)) return;
    const invitation = await checkNotice(ctx.me, notice, (fp) => this.contacts.lookup(ctx.me, fp, (f) => lookupKey(this.deps.fetch, this.settings.host, f)));
    if (!invitation) return ctx.onRejected(notice.room, 'an invitation whose signature does not verify with its sender’s key');
    if (this.isContact(ctx, invitation.by)) return this.joinInvited(ctx, invitation.room);
    await this.invitations.add(ctx.me, invitation);
    this.emit({ type: 'state' });
  }

  /** Someone we accepted or invited, or a verified member of a room we are in. */
  private isContact(ctx: RoomContext, fp: string): boolean {
    if (this.invitations.isAccepted(fp)) return true;
    const me = ctx.me.identity.fingerprint;
    for (const s of this.rooms.values()) {
      if (!s.record.removed && s.roster?.members.has(fp) && s.roster.members.has(me)) return true;
    }
    return false;
  }

  /** An invitation is only a pointer: we join the room's connection and trust nothing until its chain verifies. */
  private async joinInvited(ctx: RoomContext, roomId: string): Promise<void> {
    await this.invitations.drop(ctx.me, roomId);
    if (this.rooms.get(roomId)) return;
    await this.startRoom(ctx, this.rooms.add(ctx, emptyRoom(roomId, 'ephemeral', this.now())));
  }

  /** A room new in this browser (created, joined by link or by invitation): stored, listed, connected, shown. */
  private async startRoom(ctx: RoomContext, s: RoomSession): Promise<void> {
    await s.save();
    await this.rooms.saveIndex();
    connectRoom(ctx, s);
    this.emit({ type: 'state' });
  }

  /** Drops the captured link if it is `url` (a link captured since stays). */
  private async forgetCapturedLink(url: string): Promise<void> {
    if ((await this.deps.session.get('capturedLink')) === url) await this.deps.session.remove('capturedLink');
  }

  private requireContext(): RoomContext {
    if (!this.ctx) throw new UserFacingError('locked', 'unlock with your passphrase first');
    return this.ctx;
  }

  /** Runs a room action, then answers with the room's details as they are now. */
  private async detailAfter(roomId: string, act: (ctx: RoomContext, s: RoomSession) => Promise<void> | void): Promise<RoomDetail> {
    const ctx = this.requireContext();
    await act(ctx, this.rooms.require(roomId));
    return roomDetail(ctx, this.rooms.require(roomId), this.contacts);
  }

  /** Every room someone is a member of shows their changed trust (a key warning, a verified mark). */
  private tellRoomsOf(fingerprints: string[]): void {
    for (const s of this.rooms.values()) if (fingerprints.some((fp) => s.roster?.members.has(fp))) this.emit({ type: 'room', roomId: s.id });
  }

  /** Something of a room was moved aside: the room shows how many of its messages could not be read. */
  private onQuarantined(roomId: string | null): void {
    const s = roomId === null ? undefined : this.rooms.get(roomId);
    if (!s) return;
    s.unreadable = this.quarantine.unreadable(s.id);
    this.emit({ type: 'summary', room: summary(s) });
  }

  private emit(event: PushEvent): void {
    this.deps.emit?.(event);
  }
}
