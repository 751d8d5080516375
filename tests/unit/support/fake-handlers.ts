/**
 * How the fake background answers each request of the protocol map: the rooms, links and identity
 * it holds live on the `FakeBackend`; this is what each request does to them.
 */
import type { AppState, IdentityExport, LinkView, MemberView, RequestOf, RequestType, ResponseOf, RoomDetail } from '@/utils/protocol-map';
import type { FakeBackend } from './fake-backend';
import { detailOf, FAKE_EXPORT_PREFIX, failWith, fakeId, contactCodeOf, LINK_PATTERN, normalizeCode, type FakeRoom } from './fake-data';

/** One answer per request of the protocol map (the compiler asks for one per new request). */
export type Handlers = { [K in RequestType]: (data: RequestOf<K>) => ResponseOf<K> };

export function fakeHandlers(fake: FakeBackend): Handlers {
  function adminRoom(roomId: string): FakeRoom {
    const room = fake.room(roomId);
    if (room.myRole !== 'admin') failWith('not-admin', 'only admins manage links and requests');
    return room;
  }

  /** An admin changes a room (`change` may fail): answers with the room's details, as the background does. */
  function adminChange(roomId: string, change: (room: FakeRoom) => unknown): RoomDetail {
    const room = adminRoom(roomId);
    change(room);
    return detailOf(room);
  }

  /** The room is gone from this browser (left or forgotten): like the background, tells every page (`state`), then answers with the new state. */
  function dropRoom(room: FakeRoom): AppState {
    fake.rooms.splice(fake.rooms.indexOf(room), 1);
    fake.emit({ type: 'state' });
    return fake.state();
  }

  function decide(roomId: string, fingerprint: string, decision: 'approve' | 'deny' | 'ban'): RoomDetail {
    return adminChange(roomId, (room) => {
      const request = room.joinRequests.find((r) => r.fingerprint === fingerprint);
      if (!request) failWith('no-room', 'this request is no longer pending');
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
          creator: false,
        });
      }
    });
  }

  /** The room of a pasted or captured link for this browser's server; fails as the background does. */
  function linkRoom(url: string): string {
    const match = LINK_PATTERN.exec(url.trim());
    if (!match) failWith('not-a-link', 'not an invite link');
    const [, , host, roomId] = match as unknown as [string, string, string, string];
    if (host !== fake.host) failWith('other-server', `the link is for ${host}`);
    return roomId;
  }

  return {
    getState: () => fake.state(),
    onboard: ({ name, passphrase, host }) => {
      fake.name = name;
      fake.passphrase = passphrase;
      if (host) fake.host = host;
      fake.phase = 'ready';
      return fake.state();
    },
    unlock: ({ passphrase }) => {
      if (passphrase !== fake.passphrase) failWith('wrong-passphrase', 'passphrase does not decrypt the key');
      fake.phase = 'ready';
      return fake.state();
    },
    lock: () => {
      fake.phase = 'locked';
      return fake.state();
    },
    setHost: ({ host }) => {
      if (!host.trim()) failWith('invalid-input', 'host is empty');
      fake.host = host.trim();
      return fake.state();
    },
    createRoom: ({ name, mode }) => fake.addRoom({ name, mode }).summary,
    getRoom: ({ roomId }) => detailOf(fake.room(roomId)),
    listMessages: ({ roomId, limit, beforeId }) => {
      const messages = fake.room(roomId).messages;
      const end = beforeId === undefined ? messages.length : messages.findIndex((m) => m.id === beforeId);
      if (end < 0) return [];
      return messages.slice(Math.max(0, end - (limit ?? 100)), end);
    },
    sendMessage: ({ roomId, text, options }) => {
      const room = fake.room(roomId);
      if (!room.summary.hasKey) failWith('no-key', 'no key for this room yet');
      const answered = options?.replyTo ? room.messages.find((m) => m.id === options.replyTo) : undefined;
      if (options?.replyTo && !answered) failWith('invalid-input', 'the message you reply to is not here any more');
      const message = fake.message(roomId, { from: fake.fingerprint, fromName: fake.name, text, mine: true, status: 'sending' });
      if (answered) message.reply = { id: answered.id, from: answered.from, fromName: answered.fromName, text: answered.text };
      room.messages.push(message);
      room.summary = { ...room.summary, lastText: text, lastTs: message.ts };
      fake.pending.push(message);
      if (fake.deliverBeforeReply) fake.deliverPending();
      return message;
    },
    react: ({ roomId, messageId, emoji }) =>
      fake.changeMessage(roomId, messageId, (m) => {
        const others = m.reactions.map((r) => (r.mine ? { ...r, count: r.count - 1, mine: false } : r)).filter((r) => r.count > 0);
        const same = others.find((r) => r.emoji === emoji);
        if (same) return { reactions: others.map((r) => (r === same ? { ...r, count: r.count + 1, mine: true } : r)) };
        return { reactions: emoji ? [...others, { emoji, count: 1, mine: true }] : others };
      }),
    editMessage: ({ roomId, messageId, text }) =>
      fake.changeMessage(roomId, messageId, (m) => (m.mine ? { text, edited: true } : failWith('invalid-input', 'you can only edit your own messages'))),
    retryMessage: ({ roomId, messageId }) =>
      fake.changeMessage(roomId, messageId, (m) => {
        if (m.status !== 'failed') failWith('invalid-input', 'that message is not waiting to be sent again');
        const retried = { ...m, status: 'sending' as const, failure: null };
        fake.pending.push(retried);
        return retried;
      }),
    discardMessage: ({ roomId, messageId }) => {
      const room = fake.room(roomId);
      if (room.messages.find((m) => m.id === messageId)?.status !== 'failed') failWith('invalid-input', 'that message is not waiting to be sent again');
      room.messages = room.messages.filter((m) => m.id !== messageId);
      fake.emit({ type: 'expired', roomId, ids: [messageId] });
    },
    deleteMessage: ({ roomId, messageId }) =>
      fake.changeMessage(roomId, messageId, (m) => (m.mine ? { text: '', deleted: true, reply: null, reactions: [], edited: false } : failWith('invalid-input', 'you can only delete your own messages'))),
    inviteContact: ({ roomId, code }) => {
      const room = fake.room(roomId);
      if (room.myRole !== 'admin') failWith('not-admin', 'only admins invite');
      const contact = fake.contacts.get(normalizeCode(code));
      if (!contact) failWith('contact-not-found', 'no published key for that code');
      if (room.members.some((m) => m.fingerprint === contact.fingerprint)) failWith('already-member', 'already a member');
      const member: MemberView = {
        fingerprint: contact.fingerprint,
        name: contact.name,
        role: 'member',
        online: false,
        me: false,
        contactCode: contactCodeOf(contact.fingerprint),
        verified: true,
        canCreateLinks: false,
        creator: false,
      };
      room.members.push(member);
      return member;
    },
    markRead: ({ roomId }) => {
      const room = fake.room(roomId);
      room.summary = { ...room.summary, unread: 0 };
    },
    createLink: ({ roomId, options }) => {
      const room = fake.room(roomId);
      if (room.myRole !== 'admin' && !room.canCreateLinks) failWith('not-admin', 'only admins and members they allowed create links');
      if (options.approval && options.escrow) failWith('escrow-with-approval', 'approval links cannot escrow the key');
      if (options.maxUses !== null && (!Number.isInteger(options.maxUses) || options.maxUses < 1)) failWith('invalid-input', 'bad use limit');
      const id = fakeId();
      const link: LinkView = {
        id,
        url: `http://${fake.host}/join/${roomId}/${id}#${'s'.repeat(43)}`,
        label: options.label || null,
        approval: options.approval,
        escrow: options.escrow,
        expires: options.expiresInMs === null ? null : fake.now + options.expiresInMs,
        maxUses: options.maxUses,
        uses: 0,
        active: true,
        createdBy: fake.name,
        createdAt: fake.tick(),
      };
      room.links.unshift(link);
      return link;
    },
    listLinks: ({ roomId }) => adminRoom(roomId).links,
    revokeLink: ({ roomId, linkId }) => {
      const room = adminRoom(roomId);
      const link = room.links.find((l) => l.id === linkId);
      if (!link?.active) failWith('link-invalid', 'this link is not active');
      link.active = false;
      return room.links;
    },
    resetLinks: ({ roomId }) => {
      const room = adminRoom(roomId);
      for (const link of room.links) link.active = false;
      return room.links;
    },
    previewLink: ({ url }) => {
      const roomId = linkRoom(url);
      const held = fake.rooms.find((r) => r.summary.id === roomId && r.summary.hasKey);
      if (held) return { roomId, roomName: held.summary.name, createdBy: null, approval: false, members: held.members.length, sealed: false, member: true };
      return { roomId, roomName: 'Linked room', createdBy: 'Alice', approval: false, members: 2, sealed: true, member: false, ...fake.linkPreview };
    },
    dismissLink: ({ url }) => {
      if (fake.capturedLink === url) fake.capturedLink = null;
      return fake.state();
    },
    joinByLink: ({ url }) => {
      const roomId = linkRoom(url);
      if (fake.capturedLink === url) fake.capturedLink = null;
      const existing = fake.rooms.find((r) => r.summary.id === roomId);
      if (existing?.summary.hasKey) return existing.summary;
      const room = existing ?? fake.addRoom({ id: roomId, name: '', myRole: 'member', hasKey: false });
      room.summary = { ...room.summary, joinState: 'joining', joinError: null };
      return room.summary;
    },
    setRoomSettings: ({ roomId, settings }) => adminChange(roomId, () => void fake.changeSettings(roomId, settings, fake.name)),
    setLinkPermission: ({ roomId, fingerprint, allowed }) =>
      adminChange(roomId, (room) => {
        const member = room.members.find((m) => m.fingerprint === fingerprint && !m.me);
        if (!member) failWith('invalid-input', 'not a member');
        member.canCreateLinks = allowed;
      }),
    unban: ({ roomId, fingerprint }) => adminChange(roomId, (room) => (room.banned = room.banned.filter((f) => f !== fingerprint))),
    setMemberRole: ({ roomId, fingerprint, role }) =>
      adminChange(roomId, (room) => {
        const member = room.members.find((m) => m.fingerprint === fingerprint && !m.me);
        if (!member) failWith('invalid-input', 'not a member');
        if (role === 'member' && member.creator) failWith('role-refused', 'the creator keeps their admin rights');
        Object.assign(member, { role, canCreateLinks: role === 'admin' });
      }),
    removeMember: ({ roomId, fingerprint }) =>
      adminChange(roomId, (room) => (room.members = room.members.filter((m) => m.me || m.fingerprint !== fingerprint))),
    loadOlder: ({ roomId }) => {
      const room = fake.room(roomId);
      if (room.summary.mode !== 'backup') return 0;
      const page = room.serverOlder.splice(Math.max(0, room.serverOlder.length - fake.serverPageSize));
      // Like the background: stored as the newest entries, and pushed one by one.
      room.messages.push(...page);
      for (const message of page) fake.emit({ type: 'message', roomId, message, room: room.summary });
      return page.length;
    },
    exportIdentity: ({ passphrase }) => {
      if (passphrase !== fake.passphrase) failWith('wrong-passphrase', 'enter the passphrase of this identity to export it');
      const safeName = fake.name.replace(/[^\p{L}\p{N}_-]+/gu, '-') || 'identity';
      const file: IdentityExport = { fileName: `partychat-${safeName}.asc`, content: `${FAKE_EXPORT_PREFIX}${fake.name}:${fake.passphrase}\n-----END PGP MESSAGE-----` };
      return file;
    },
    importIdentity: ({ content, passphrase, host }) => {
      if (fake.phase !== 'onboard') failWith('invalid-input', 'an identity already exists in this browser');
      const match = /fake identity export for (.+):(.+)\n/.exec(content);
      if (!match || match[2] !== passphrase) failWith('bad-import', 'the file could not be opened');
      fake.name = match[1] as string;
      fake.passphrase = passphrase;
      if (host) fake.host = host;
      fake.phase = 'ready';
      return fake.state();
    },
    forgetRoom: ({ roomId }) => {
      const room = fake.room(roomId);
      if (room.summary.hasKey && !room.summary.removed) failWith('invalid-input', 'leave the room first');
      return dropRoom(room);
    },
    leaveRoom: ({ roomId, successor }) => {
      const room = fake.room(roomId);
      const others = room.members.filter((m) => !m.me);
      if (room.myRole === 'admin' && !successor && others.length && !others.some((m) => m.role === 'admin')) {
        failWith('successor-needed', 'the last admin names a successor before leaving');
      }
      // Our signed leave went through: the room's membership changed (a `room` event) before it is dropped here.
      fake.emit({ type: 'room', roomId });
      return dropRoom(room);
    },
    approveRequest: ({ roomId, fingerprint }) => decide(roomId, fingerprint, 'approve'),
    denyRequest: ({ roomId, fingerprint }) => decide(roomId, fingerprint, 'deny'),
    banRequester: ({ roomId, fingerprint }) => decide(roomId, fingerprint, 'ban'),
    setRoomMuted: ({ roomId, muted }) => {
      const room = fake.room(roomId);
      room.summary = { ...room.summary, muted };
      fake.emit({ type: 'summary', room: room.summary });
      return room.summary;
    },
    dismissUnreadableRooms: () => {
      fake.unreadableRooms = 0;
      return fake.state();
    },
    dismissUnreadable: ({ roomId }) => {
      const room = fake.room(roomId);
      room.summary = { ...room.summary, unreadable: 0 };
      fake.emit({ type: 'summary', room: room.summary });
      return room.summary;
    },
    setNotificationPreviews: ({ enabled }) => {
      fake.notificationPreviews = enabled;
      fake.emit({ type: 'state' });
      return fake.state();
    },
    decideInvitation: ({ roomId, decision }) => {
      const invitation = fake.invitations.find((i) => i.room === roomId);
      if (!invitation) failWith('no-room', 'this invitation is no longer waiting');
      fake.invitations = fake.invitations.filter((i) => i.room !== roomId && (decision !== 'block' || i.by !== invitation.by));
      if (decision === 'accept') fake.addRoom({ id: roomId, name: invitation.roomName ?? '', myRole: 'member' });
      fake.emit({ type: 'state' });
      return fake.state();
    },
    setContactVerified: ({ roomId, fingerprint, verified }) => {
      const room = fake.room(roomId);
      const member = room.members.find((m) => m.fingerprint === fingerprint && !m.me);
      if (!member) failWith('invalid-input', 'only another member can be marked verified');
      room.members = room.members.map((m) => (m === member ? { ...m, contactVerified: verified, keyWarning: verified ? null : m.keyWarning } : m));
      return detailOf(room);
    },
  };
}
