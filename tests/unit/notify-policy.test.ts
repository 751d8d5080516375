/** When a message becomes a browser notification, and what it says (services/notify-policy.ts), plus muting a room (services/room/preferences.ts). */
import { describe, expect, it } from 'vitest';
import { ChatService } from '@/services/chat';
import { messageNotice, noticeText, notifiesJoinRequest } from '@/services/notify-policy';
import { setLocale } from '@/utils/i18n';
import type { LocalItems, RoomRecord, SessionItems } from '@/services/records';
import { setMuted } from '@/services/room/preferences';
import { unseal } from '@/services/sealed';
import { memoryStore } from '@/services/store';
import type { MessageView, PushEvent, RoomSummary } from '@/utils/protocol-map';
import { NO_ACTIONS } from './support/fake-data';
import { fakeSocketFactory, person, roomFixture } from './support/room-fixture';

const ROOM = 'r1';
const room: RoomSummary = {
  id: ROOM,
  name: 'Book club',
  mode: 'ephemeral',
  unread: 1,
  lastText: 'the secret plan',
  lastTs: 1_000,
  connected: true,
  hasKey: true,
  joinState: null,
  joinError: null,
  requests: 0,
  missing: 0,
  removed: false,
  backupFull: false,
  muted: false,
};
const message: MessageView = {
  id: 'm1',
  roomId: ROOM,
  from: 'a'.repeat(40),
  fromName: 'Alice',
  text: 'the secret plan',
  ts: 1_000,
  mine: false,
  status: 'received',
  seq: 1,
  kind: 'text',
  event: null,
  expiresAt: null,
  ...NO_ACTIONS,
};
const arrived = (m: Partial<MessageView> = {}, r: Partial<RoomSummary> = {}): PushEvent => ({ type: 'message', roomId: ROOM, message: { ...message, ...m }, room: { ...room, ...r } });

describe('message notifications: the policy', () => {
  it.each([
    { name: 'a message in a room not in view: sender and room, no text', event: arrived(), previews: false, inView: [], notice: { roomId: ROOM, roomName: 'Book club', senderName: 'Alice', text: null } },
    { name: 'with previews turned on, the text too', event: arrived(), previews: true, inView: [], notice: { roomId: ROOM, roomName: 'Book club', senderName: 'Alice', text: 'the secret plan' } },
    { name: 'another room in view does not count', event: arrived(), previews: false, inView: ['other'], notice: { roomId: ROOM, roomName: 'Book club', senderName: 'Alice', text: null } },
    { name: 'the room is in view', event: arrived(), previews: true, inView: [ROOM], notice: null },
    { name: 'a muted room never notifies', event: arrived({}, { muted: true }), previews: true, inView: [], notice: null },
    { name: 'our own message', event: arrived({ mine: true, status: 'sent' }), previews: false, inView: [], notice: null },
    { name: 'our own message as it is sent', event: arrived({ mine: true, status: 'sending' }), previews: false, inView: [], notice: null },
    { name: 'a room event (timer changed)', event: arrived({ kind: 'event' }), previews: false, inView: [], notice: null },
    { name: 'an edit, delete or reaction changing a message already shown', event: { ...arrived({ edited: true }), updated: true } as PushEvent, previews: true, inView: [], notice: null },
    { name: 'a room we were removed from', event: arrived({}, { removed: true }), previews: false, inView: [], notice: null },
    { name: 'a join request is not a message', event: { type: 'join-request', roomId: ROOM, roomName: 'Book club', name: 'Joe' } as PushEvent, previews: true, inView: [], notice: null },
    { name: 'a summary is not a message', event: { type: 'summary', room } as PushEvent, previews: true, inView: [], notice: null },
  ])('$name', ({ event, previews, inView, notice }) => {
    expect(messageNotice({ event, previews, inView: (id) => (inView as string[]).includes(id) })).toEqual(notice);
  });
});

describe('join request notifications', () => {
  const request: PushEvent = { type: 'join-request', roomId: ROOM, roomName: 'Book club', name: 'Joe' };
  it.each([
    ['a join request in a room not muted', request, [], true],
    ['a join request in a muted room', request, [ROOM], false],
    ['a join request while another room is muted', request, ['other'], true],
    ['a message is not a join request', arrived(), [], false],
  ] as const)('%s', (_name, event, muted, expected) => {
    expect(notifiesJoinRequest(event, (id) => (muted as readonly string[]).includes(id))).toBe(expected);
  });
});

describe('message notifications: the words', () => {
  it.each([
    ['en', null, { title: 'New message in Book club', body: 'From Alice' }],
    ['en', 'see you at 8', { title: 'New message in Book club', body: 'Alice: see you at 8' }],
    ['zh-TW', null, { title: 'Book club 有新訊息', body: '來自 Alice' }],
  ] as const)('%s, text %s', (locale, text, expected) => {
    setLocale(locale);
    expect(noticeText({ roomId: ROOM, roomName: 'Book club', senderName: 'Alice', text })).toEqual(expected);
    setLocale('en');
  });
});

describe('muting a room', () => {
  it('is stored in the room record, shown in its summary, told to every page, and keeps its messages from notifying', async () => {
    const [alice, bob] = await Promise.all([person('Alice'), person('Bob')]);
    const f = await roomFixture({ me: bob, others: [alice] });
    const stored = async () => {
      const key = `room:${f.s.id}` as const;
      const sealed = await f.local.get(key);
      if (!sealed) throw new Error('the room was not stored');
      return unseal<RoomRecord>(f.ctx.me.vaultKey, sealed, key);
    };
    expect((await setMuted(f.ctx, f.s, true)).muted).toBe(true);
    expect((await stored()).muted).toBe(true);
    expect(f.events.at(-1)).toMatchObject({ type: 'summary', room: { id: f.s.id, muted: true } });

    f.socket.deliver({ type: 'msg', ...(await f.envelope(alice, { text: 'psst' })) });
    await f.settle();
    const event = f.events.findLast((e) => e.type === 'message');
    if (!event) throw new Error('no message event');
    expect(event).toMatchObject({ room: { muted: true }, message: { fromName: 'Alice' } });
    expect(messageNotice({ event, previews: true, inView: () => false })).toBeNull();

    expect((await setMuted(f.ctx, f.s, false)).muted).toBe(false);
    expect((await stored()).muted).toBeUndefined();
    f.socket.deliver({ type: 'msg', ...(await f.envelope(alice, { text: 'again' })) });
    await f.settle();
    const next = f.events.findLast((e) => e.type === 'message');
    if (!next) throw new Error('no message event');
    expect(messageNotice({ event: next, previews: false, inView: () => false })).toEqual({ roomId: f.s.id, roomName: 'Fixture', senderName: 'Alice', text: null });
  });
});

describe('the "show message text in notifications" setting', () => {
  it('is off by default, stored with the server address, and survives a change of address and a restart', async () => {
    const local = memoryStore<LocalItems>();
    const events: PushEvent[] = [];
    const service = () =>
      new ChatService({
        local,
        session: memoryStore<SessionItems>(),
        openSocket: fakeSocketFactory().factory,
        fetch: () => Promise.reject(new Error('no fetch in unit tests')),
        defaultHost: 'localhost:1999',
        emit: (e) => events.push(e),
      });
    const chat = service();
    expect(chat.notificationPreviews).toBe(false);
    expect((await chat.getState()).notificationPreviews).toBe(false);
    expect((await chat.setNotificationPreviews(true)).notificationPreviews).toBe(true);
    expect(chat.notificationPreviews).toBe(true);
    expect(events).toContainEqual({ type: 'state' });
    await chat.setHost('chat.example.org');
    expect(await local.get('settings')).toEqual({ host: 'chat.example.org', notificationPreviews: true });
    const restarted = service();
    expect((await restarted.getState()).notificationPreviews).toBe(true);
    expect((await restarted.setNotificationPreviews(false)).notificationPreviews).toBe(false);
    expect((await service().getState()).notificationPreviews).toBe(false);
  });
});
