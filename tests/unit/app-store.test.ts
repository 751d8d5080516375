import { flushPromises } from '@vue/test-utils';
import { createPinia, setActivePinia } from 'pinia';
import { mergeMessages, MESSAGE_PAGE_SIZE, OLDER_PAGE_SIZE, upsertMessage, useAppStore, type AppStore } from '@/stores/app';
import type { MessageStatus, MessageView, UserErrorCode } from '@/utils/protocol-map';
import { FakeBackend, fakeFingerprint, fakeId } from './support/fake-backend';
import { NO_ACTIONS } from './support/fake-data';

function message(id: string, ts: number, status: MessageStatus = 'received'): MessageView {
  return { id, roomId: 'r', from: 'f', fromName: 'F', text: `text ${id}`, ts, mine: status !== 'received', status, seq: null, kind: 'text', event: null, expiresAt: null, ...NO_ACTIONS };
}

async function started(fake: FakeBackend): Promise<AppStore> {
  setActivePinia(createPinia());
  const store = useAppStore();
  await store.init(fake);
  return store;
}

describe('message order', () => {
  const seqd = (id: string, seq: number, ts = seq): MessageView => ({ ...message(id, ts), seq });
  const event = (id: string, ts: number): MessageView => ({ ...message(id, ts), kind: 'event' });

  it.each<[string, MessageView[], MessageView, string[], MessageStatus[]]>([
    ['appends a newer message', [message('a', 1)], message('b', 2), ['a', 'b'], ['received', 'received']],
    ['inserts an older message in order', [message('a', 1), message('c', 3)], message('b', 2), ['a', 'b', 'c'], ['received', 'received', 'received']],
    ['replaces sending with sent', [message('a', 1, 'sending')], message('a', 1, 'sent'), ['a'], ['sent']],
    ['keeps sent when a late sending arrives', [message('a', 1, 'sent')], message('a', 1, 'sending'), ['a'], ['sent']],
  ])('%s', (_name, list, incoming, ids, statuses) => {
    upsertMessage(list, incoming);
    expect(list.map((m) => m.id)).toEqual(ids);
    expect(list.map((m) => m.status)).toEqual(statuses);
  });

  it('orders by seq whatever the clocks say, with messages still sending last', () => {
    const list: MessageView[] = [];
    for (const m of [message('sending', 1, 'sending'), seqd('s3', 3, 10), seqd('s1', 1, 50), seqd('s2', 2, 5)]) upsertMessage(list, m);
    expect(list.map((m) => m.id)).toEqual(['s1', 's2', 's3', 'sending']);
  });

  it('moves a sent message to its seq once the server numbered it', () => {
    const list: MessageView[] = [seqd('s1', 1), message('mine', 2, 'sending'), seqd('s2', 2, 3)];
    expect(list.map((m) => m.id)).toEqual(['s1', 'mine', 's2']);
    upsertMessage(list, { ...message('mine', 2, 'sent'), seq: 3 });
    expect(list.map((m) => m.id)).toEqual(['s1', 's2', 'mine']);
  });

  it('places a room event by time among numbered messages, before anything still sending', () => {
    const list: MessageView[] = [seqd('s1', 1, 10), seqd('s2', 2, 30), message('sending', 40, 'sending')];
    upsertMessage(list, event('e', 20));
    expect(list.map((m) => m.id)).toEqual(['s1', 'e', 's2', 'sending']);
  });

  it('merges a page into what is held: union in order, newer copies win, nothing held is dropped', () => {
    const held = [seqd('s5', 5), seqd('s6', 6), { ...message('s7', 7, 'sending') }];
    const merged = mergeMessages(held, [seqd('s1', 1), seqd('s2', 2), { ...seqd('s7', 7), status: 'sent' }]);
    expect(merged.map((m) => [m.id, m.status])).toEqual([
      ['s1', 'received'],
      ['s2', 'received'],
      ['s5', 'received'],
      ['s6', 'received'],
      ['s7', 'sent'],
    ]);
    expect(held).toHaveLength(3);
  });

  it('skips ids it is told are gone', () => {
    expect(mergeMessages([], [seqd('a', 1), seqd('b', 2)], new Set(['a'])).map((m) => m.id)).toEqual(['b']);
  });
});

describe('app store', () => {
  let fake: FakeBackend;

  beforeEach(() => {
    fake = new FakeBackend();
  });

  it('loads the state and subscribes on init; dispose unsubscribes', async () => {
    fake.host = 'chat.example.com';
    const store = await started(fake);
    expect(store.phase).toBe('onboard');
    expect(store.host).toBe('chat.example.com');
    expect(fake.listenerCount).toBe(1);
    store.dispose();
    expect(fake.listenerCount).toBe(0);
  });

  it('records a failed first load and recovers on refresh', async () => {
    fake.failNext('getState', 'internal');
    const store = await started(fake);
    expect(store.phase).toBe('loading');
    expect(store.errorFor('load')?.code).toBe('internal');
    await store.refresh();
    expect(store.phase).toBe('onboard');
    expect(store.lastError).toBeNull();
  });

  it('onboards: busy while the key is generated, then ready', async () => {
    const store = await started(fake);
    const release = fake.hold('onboard');
    const done = store.onboard({ name: 'Alice', passphrase: 'long enough', host: 'localhost:1999' });
    await flushPromises();
    expect(store.busy.onboard).toBe(true);
    expect(store.phase).toBe('onboard');
    release();
    expect(await done).toBe(true);
    expect(store.busy.onboard).toBe(false);
    expect(store.phase).toBe('ready');
    expect(store.me?.name).toBe('Alice');
    expect(fake.callsOf('onboard')).toEqual([{ name: 'Alice', passphrase: 'long enough', host: 'localhost:1999' }]);
  });

  it('surfaces a wrong passphrase, then unlocks with the right one', async () => {
    fake.setUp({ passphrase: 'right passphrase', phase: 'locked' });
    const store = await started(fake);
    expect(store.phase).toBe('locked');

    expect(await store.unlock('wrong passphrase')).toBe(false);
    expect(store.phase).toBe('locked');
    expect(store.lastError?.code).toBe('wrong-passphrase');
    expect(store.errorFor('unlock')?.code).toBe('wrong-passphrase');
    expect(store.errorFor('inviteContact')).toBeNull();

    expect(await store.unlock('right passphrase')).toBe(true);
    expect(store.phase).toBe('ready');
    expect(store.lastError).toBeNull();
  });

  it('creates a room and opens it', async () => {
    fake.setUp();
    const store = await started(fake);
    const room = await store.createRoom({ name: 'Team', mode: 'backup' });
    expect(room?.mode).toBe('backup');
    expect(store.currentRoomId).toBe(room?.id);
    expect(store.roomDetail?.name).toBe('Team');
    expect(store.rooms.map((r) => r.name)).toEqual(['Team']);
  });

  it('replaces a sending message with its pushed sent copy instead of duplicating it', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);

    expect(await store.sendMessage(room.summary.id, 'hello')).toBe(true);
    expect(store.currentMessages.map((m) => [m.text, m.status])).toEqual([['hello', 'sending']]);

    fake.deliverPending();
    await flushPromises();
    expect(store.currentMessages.map((m) => [m.text, m.status])).toEqual([['hello', 'sent']]);
  });

  it('keeps a message pushed as sent before the sendMessage reply arrives', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    fake.deliverBeforeReply = true;
    await store.sendMessage(room.summary.id, 'race');
    await flushPromises();
    expect(store.currentMessages.map((m) => [m.text, m.status])).toEqual([['race', 'sent']]);
  });

  it('shows a message for the open room and marks it read', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    const readsBefore = fake.callsOf('markRead').length;

    fake.receive(room.summary.id, { fromName: 'Bob', text: 'hi Alice' });
    await flushPromises();

    expect(store.currentMessages.map((m) => m.text)).toEqual(['hi Alice']);
    expect(fake.callsOf('markRead').length).toBe(readsBefore + 1);
    expect(store.rooms.find((r) => r.id === room.summary.id)?.unread).toBe(0);
  });

  it('updates unread counts from the summary pushed with a message for another room, without re-reading the state', async () => {
    fake.setUp();
    const open = fake.addRoom({ name: 'Open' });
    const other = fake.addRoom({ name: 'Other' });
    const store = await started(fake);
    await store.openRoom(open.summary.id);
    const stateCallsBefore = fake.callsOf('getState').length;

    fake.receive(other.summary.id, { fromName: 'Bob', text: 'elsewhere' });
    await flushPromises();

    expect(fake.callsOf('getState').length).toBe(stateCallsBefore);
    expect(store.rooms.find((r) => r.id === other.summary.id)).toMatchObject({ unread: 1, lastText: 'elsewhere' });
    expect(store.currentMessages).toEqual([]);
    expect(fake.callsOf('markRead')).not.toContainEqual({ roomId: other.summary.id });
  });

  it('coalesces a burst of state events into at most one follow-up refresh', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    const before = { state: fake.callsOf('getState').length, messages: fake.callsOf('listMessages').length };

    for (let i = 0; i < 5; i++) fake.emit({ type: 'state' });
    await flushPromises();

    expect(fake.callsOf('getState').length - before.state).toBe(2);
    // A state change alone does not re-read the messages (they arrive as message events)...
    expect(fake.callsOf('listMessages').length - before.messages).toBe(0);

    // ...a reconnect to a restarted worker does, once per burst.
    for (let i = 0; i < 3; i++) fake.emit({ type: i === 1 ? 'resync' : 'state' });
    await flushPromises();
    expect(fake.callsOf('listMessages').length - before.messages).toBe(1);
  });

  it('catches up on messages it missed while the worker was restarting', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    fake.fillHistory(room.summary.id, 2); // arrived while the UI was not connected: no pushes
    fake.emit({ type: 'state' });
    await flushPromises();
    expect(store.currentMessages).toEqual([]);
    fake.emit({ type: 'resync' });
    await flushPromises();
    expect(store.currentMessages.map((m) => m.text)).toEqual(['message 1', 'message 2']);
  });

  it('refetches the open room on a room event', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    room.members.push({ fingerprint: fakeFingerprint('c'), name: 'Carol', role: 'member', online: true, me: false, contactCode: 'C', verified: true, canCreateLinks: false, creator: false });

    fake.emit({ type: 'room', roomId: room.summary.id });
    await flushPromises();

    expect(store.roomDetail?.members.map((m) => m.name)).toEqual(['Alice', 'Carol']);
  });

  it('forgets rooms and messages when a state event reports the vault locked', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    await store.sendMessage(room.summary.id, 'secret');

    fake.phase = 'locked';
    fake.emit({ type: 'state' });
    await flushPromises();

    expect(store.phase).toBe('locked');
    expect(store.currentRoomId).toBeNull();
    expect(store.messagesByRoom).toEqual({});
    expect(store.rooms).toEqual([]);
  });

  it('returns to the list with an error when a room cannot be opened', async () => {
    fake.setUp();
    const store = await started(fake);
    await store.openRoom('f'.repeat(32));
    expect(store.currentRoomId).toBeNull();
    expect(store.errorFor('openRoom')?.code).toBe('no-room');
  });

  it('invites a contact and refreshes the member list', async () => {
    fake.setUp();
    const room = fake.addRoom({ name: 'Team' });
    const code = fake.addContact({ name: 'Bob', fingerprint: fakeFingerprint('b') });
    const store = await started(fake);
    await store.openRoom(room.summary.id);

    const member = await store.inviteContact(room.summary.id, code);
    expect(member?.name).toBe('Bob');
    expect(store.roomDetail?.members.map((m) => m.name)).toEqual(['Alice', 'Bob']);
  });

  describe('invite failures map to their error code', () => {
    it.each<[string, (fake: FakeBackend) => { roomId: string; code: string }, UserErrorCode]>([
      ['unknown contact code', (f) => ({ roomId: f.addRoom({ name: 'R' }).summary.id, code: 'ZZZZ ZZZZ' }), 'contact-not-found'],
      [
        'already a member',
        (f) => {
          const bob = { name: 'Bob', fingerprint: fakeFingerprint('b') };
          return { roomId: f.addRoom({ name: 'R', others: [bob] }).summary.id, code: f.addContact(bob) };
        },
        'already-member',
      ],
      [
        'not an admin',
        (f) => ({
          roomId: f.addRoom({ name: 'R', myRole: 'member' }).summary.id,
          code: f.addContact({ name: 'Bob', fingerprint: fakeFingerprint('b') }),
        }),
        'not-admin',
      ],
      [
        'server unreachable',
        (f) => {
          f.failNext('inviteContact', 'offline');
          return { roomId: f.addRoom({ name: 'R' }).summary.id, code: 'ABCD' };
        },
        'offline',
      ],
      [
        'key does not match the code',
        (f) => {
          f.failNext('inviteContact', 'contact-key-mismatch');
          return { roomId: f.addRoom({ name: 'R' }).summary.id, code: 'ABCD' };
        },
        'contact-key-mismatch',
      ],
    ])('%s → %s', async (_name, arrange, expected) => {
      fake.setUp();
      const { roomId, code } = arrange(fake);
      const store = await started(fake);
      await store.openRoom(roomId);

      expect(await store.inviteContact(roomId, code)).toBeNull();
      expect(store.lastError?.code).toBe(expected);
      expect(store.errorFor('inviteContact')?.code).toBe(expected);
      expect(store.busy.inviteContact).toBe(false);
    });
  });

  it('clears the previous error when the next action starts', async () => {
    fake.setUp();
    const store = await started(fake);
    fake.failNext('createRoom', 'server');
    expect(await store.createRoom({ name: 'X', mode: 'ephemeral' })).toBeNull();
    expect(store.errorFor('createRoom')?.code).toBe('server');
    expect(await store.setHost('other.example.com')).toBe(true);
    expect(store.lastError).toBeNull();
    expect(store.host).toBe('other.example.com');
  });
});

describe('app store: invite links and joining', () => {
  let fake: FakeBackend;

  beforeEach(() => {
    fake = new FakeBackend().setUp();
  });

  it('creates a link and keeps the open room’s list, newest first; opening another room forgets it', async () => {
    const room = fake.addRoom({ name: 'Team' });
    const other = fake.addRoom({ name: 'Other' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    await store.loadLinks(room.summary.id);
    expect(store.links).toEqual([]);

    const first = await store.createLink(room.summary.id, { approval: false, escrow: true, expiresInMs: null, maxUses: null, label: 'a' });
    const second = await store.createLink(room.summary.id, { approval: true, escrow: false, expiresInMs: 3_600_000, maxUses: 5, label: 'b' });
    expect(store.links?.map((l) => l.id)).toEqual([second?.id, first?.id]);

    await store.openRoom(other.summary.id);
    expect(store.links).toBeNull();
  });

  it('records a refused link under createLink', async () => {
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    const options = { approval: true, escrow: true, expiresInMs: null, maxUses: null, label: '' };
    expect(await store.createLink(room.summary.id, options)).toBeNull();
    expect(store.errorFor('createLink')?.code).toBe('escrow-with-approval');
  });

  it('re-reads the links on pushed events only while the invite panel shows them', async () => {
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    fake.emit({ type: 'room', roomId: room.summary.id });
    await flushPromises();
    expect(fake.callsOf('listLinks')).toHaveLength(0);

    store.linksShown = true;
    fake.addLink(room.summary.id, { label: 'made elsewhere' });
    fake.emit({ type: 'room', roomId: room.summary.id });
    await flushPromises();
    expect(store.links?.map((l) => l.label)).toEqual(['made elsewhere']);
  });

  it('joins by link: adds the room to the list and opens it', async () => {
    const store = await started(fake);
    const roomId = fakeId();
    const joined = await store.joinByLink(`http://${fake.host}/join/${roomId}/${fakeId()}#${'k'.repeat(43)}`);
    expect(joined?.joinState).toBe('joining');
    expect(store.rooms.map((r) => r.id)).toEqual([roomId]);
    expect(store.currentRoomId).toBe(roomId);
    expect(store.busy.joinByLink).toBe(false);
  });

  it('records a pasted non-link under joinByLink and opens nothing', async () => {
    const store = await started(fake);
    expect(await store.joinByLink('hello')).toBeNull();
    expect(store.errorFor('joinByLink')?.code).toBe('not-a-link');
    expect(store.currentRoomId).toBeNull();
  });

  it('decides a join request and updates the open room and its request count', async () => {
    const room = fake.addRoom({ name: 'Team' });
    fake.askToJoin(room.summary.id, { name: 'Carol', fingerprint: fakeFingerprint('c') });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    expect(store.roomDetail?.joinRequests).toHaveLength(1);
    expect(await store.decideRequest(room.summary.id, fakeFingerprint('c'), 'deny')).toBe(true);
    expect(store.roomDetail?.joinRequests).toEqual([]);
    expect(store.rooms[0]?.requests).toBe(0);
    expect(store.decidingRequests.size).toBe(0);
  });
});

it('drops disappeared messages from the open room when told they expired', async () => {
  const fake = new FakeBackend().setUp();
  const room = fake.addRoom({ name: 'Team' });
  const store = await started(fake);
  await store.openRoom(room.summary.id);
  const gone = fake.receive(room.summary.id, { fromName: 'Bob', text: 'this disappears' });
  await flushPromises();
  expect(store.currentMessages.map((m) => m.id)).toEqual([gone.id]);
  fake.room(room.summary.id).messages = [];
  fake.emit({ type: 'expired', roomId: room.summary.id, ids: [gone.id] });
  await flushPromises();
  expect(store.currentMessages).toEqual([]);
});

describe('app store: history, settings and identity transfer', () => {
  let fake: FakeBackend;

  beforeEach(() => {
    fake = new FakeBackend().setUp();
  });

  it('loads older local pages before the oldest held message, then knows when they are used up', async () => {
    const room = fake.addRoom({ name: 'Long' });
    // The first page, two full older pages and half of one.
    const total = MESSAGE_PAGE_SIZE + 2 * OLDER_PAGE_SIZE + 50;
    fake.fillHistory(room.summary.id, total);
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    expect(store.currentMessages).toHaveLength(MESSAGE_PAGE_SIZE);
    expect(store.currentMessages[0]?.text).toBe(`message ${total - MESSAGE_PAGE_SIZE + 1}`);

    expect(await store.loadOlderMessages(room.summary.id)).toBe(OLDER_PAGE_SIZE);
    expect(fake.callsOf('listMessages').at(-1)).toEqual({ roomId: room.summary.id, limit: OLDER_PAGE_SIZE, beforeId: fake.room(room.summary.id).messages[total - MESSAGE_PAGE_SIZE]?.id });
    expect(store.currentMessages[0]?.text).toBe(`message ${total - MESSAGE_PAGE_SIZE - OLDER_PAGE_SIZE + 1}`);

    await store.loadOlderMessages(room.summary.id);
    expect(await store.loadOlderMessages(room.summary.id)).toBe(50);
    expect(store.currentMessages.map((m) => m.text)).toEqual(Array.from({ length: total }, (_, i) => `message ${i + 1}`));
    expect(store.olderByRoom[room.summary.id]?.localDone).toBe(true);
    // An ephemeral room has nothing more anywhere.
    expect(store.canLoadOlder(room.summary.id)).toBe(false);
    expect(await store.loadOlderMessages(room.summary.id)).toBe(0);
    expect(fake.callsOf('loadOlder')).toEqual([]);
  });

  it('asks the server backup once local history is used up (backup rooms), until it has nothing older', async () => {
    const room = fake.addRoom({ name: 'Backup', mode: 'backup' });
    fake.fillHistory(room.summary.id, 30, { onServer: 150 });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    expect(store.currentMessages).toHaveLength(30);

    expect(await store.loadOlderMessages(room.summary.id)).toBe(100);
    await flushPromises();
    expect(fake.callsOf('loadOlder')).toEqual([{ roomId: room.summary.id }]);
    expect(store.currentMessages).toHaveLength(130);
    expect(store.currentMessages[0]?.text).toBe('message 51');
    expect(store.currentMessages.at(-1)?.text).toBe('message 180');

    await store.loadOlderMessages(room.summary.id);
    expect(store.currentMessages[0]?.text).toBe('message 1');
    expect(await store.loadOlderMessages(room.summary.id)).toBe(0);
    expect(store.canLoadOlder(room.summary.id)).toBe(false);
    const ordered = store.currentMessages.map((m) => m.seq ?? 0);
    expect(ordered).toEqual([...ordered].sort((a, b) => a - b));
  });

  it('marks a burst of pushed messages read with at most two requests', async () => {
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    const before = fake.callsOf('markRead').length;
    for (let i = 0; i < 20; i++) fake.receive(room.summary.id, { fromName: 'Bob', text: `burst ${i}` });
    await flushPromises();
    expect(store.currentMessages).toHaveLength(20);
    expect(fake.callsOf('markRead').length - before).toBeLessThanOrEqual(2);
    expect(store.rooms[0]?.unread).toBe(0);
  });

  it('does not bring back a message that expired while a page was loading', async () => {
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    const gone = fake.receive(room.summary.id, { fromName: 'Bob', text: 'poof' });
    await flushPromises();
    const release = fake.hold('listMessages');
    fake.emit({ type: 'resync' });
    await flushPromises();
    fake.expire(room.summary.id, [gone.id]);
    fake.room(room.summary.id).messages.push(gone); // the held page was read before it expired
    release();
    await flushPromises();
    expect(store.currentMessages.map((m) => m.id)).not.toContain(gone.id);
  });

  it('saves room settings and shows the event in the open room, without touching the room preview', async () => {
    const room = fake.addRoom({ name: 'Team' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'before' });
    await flushPromises();

    const settings = { disappearMs: 3_600_000, shareHistory: false, retentionDays: null, retentionCount: null };
    expect(await store.saveRoomSettings(room.summary.id, settings)).toBe(true);
    await flushPromises();
    expect(fake.callsOf('setRoomSettings')).toEqual([{ roomId: room.summary.id, settings }]);
    expect(store.roomDetail?.settings).toEqual(settings);
    expect(store.currentMessages.map((m) => m.kind)).toEqual(['text', 'event']);
    expect(store.rooms[0]?.lastText).toBe('before');
  });

  it('records a refused settings change under saveSettings', async () => {
    const room = fake.addRoom({ name: 'Team', myRole: 'member' });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    expect(await store.saveRoomSettings(room.summary.id, { disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: null })).toBe(false);
    expect(store.errorFor('saveSettings')?.code).toBe('not-admin');
  });

  it('exports with the right passphrase only', async () => {
    const store = await started(fake);
    expect(await store.exportIdentity('not it')).toBeNull();
    expect(store.errorFor('exportIdentity')?.code).toBe('wrong-passphrase');
    const file = await store.exportIdentity('correct horse');
    expect(file?.fileName).toBe('partychat-Alice.asc');
    expect(store.lastError).toBeNull();
  });

  it('imports an identity before onboarding and reaches ready; a bad file is bad-import', async () => {
    const other = new FakeBackend().setUp({ name: 'Alice', passphrase: 'alice passphrase' });
    const content = (await other.request('exportIdentity', { passphrase: 'alice passphrase' })).content;
    const store = await started(fake.setUp({ phase: 'onboard', name: '' }));
    expect(await store.importIdentity({ content, passphrase: 'wrong', host: 'h:1' })).toBe(false);
    expect(store.errorFor('importIdentity')?.code).toBe('bad-import');
    expect(await store.importIdentity({ content, passphrase: 'alice passphrase', host: 'h:1' })).toBe(true);
    expect(store.phase).toBe('ready');
    expect(store.me?.name).toBe('Alice');
    expect(store.host).toBe('h:1');
  });

  it('forgets a failed join and returns to the list', async () => {
    const store = await started(fake);
    const roomId = fakeId();
    await store.joinByLink(`http://${fake.host}/join/${roomId}/${fakeId()}#${'k'.repeat(43)}`);
    fake.setJoinState(roomId, 'failed', { code: 'link-invalid', message: 'x' });
    await flushPromises();
    expect(await store.forgetRoom(roomId)).toBe(true);
    expect(store.currentRoomId).toBeNull();
    expect(store.rooms).toEqual([]);
    expect(fake.callsOf('forgetRoom')).toEqual([{ roomId }]);
  });
  it.each<[string, 'remove' | 'allow-links' | 'deny-links' | 'promote', (detail: NonNullable<AppStore['roomDetail']>) => unknown, unknown]>([
    ['removes a member', 'remove', (d) => d.members.map((m) => m.name), ['Alice']],
    ['makes a member an admin', 'promote', (d) => d.members.find((m) => m.name === 'Bob')?.role, 'admin'],
    ['lets a member create links', 'allow-links', (d) => d.members.find((m) => m.name === 'Bob')?.canCreateLinks, true],
    ['stops a member creating links', 'deny-links', (d) => d.members.find((m) => m.name === 'Bob')?.canCreateLinks, false],
  ])('memberAction %s and shows the room details it answers with', async (_name, action, read, expected) => {
    const bob = fakeFingerprint('b');
    const room = fake.addRoom({ name: 'Team', others: [{ name: 'Bob', fingerprint: bob }] });
    for (const member of room.members) if (member.fingerprint === bob) member.canCreateLinks = action === 'deny-links';
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    expect(await store.memberAction(room.summary.id, action, bob)).toBe(true);
    expect(store.roomDetail && read(store.roomDetail)).toEqual(expected);
    expect(store.busy.memberAction).toBe(false);
  });

  it('asks the last admin for a successor, and leaves naming one', async () => {
    const bob = fakeFingerprint('b');
    const room = fake.addRoom({ name: 'Team', others: [{ name: 'Bob', fingerprint: bob }] });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    expect(await store.leaveRoom(room.summary.id)).toBe(false);
    expect(store.errorFor('leaveRoom')?.code).toBe('successor-needed');
    expect(await store.leaveRoom(room.summary.id, bob)).toBe(true);
    expect(fake.callsOf('leaveRoom')).toEqual([{ roomId: room.summary.id }, { roomId: room.summary.id, successor: bob }]);
    expect(store.rooms).toEqual([]);
  });

  it('records a refused member action under memberAction, and leaves a room for good', async () => {
    const bob = fakeFingerprint('b');
    const room = fake.addRoom({ name: 'Team', myRole: 'member', others: [{ name: 'Bob', fingerprint: bob }] });
    const store = await started(fake);
    await store.openRoom(room.summary.id);
    expect(await store.memberAction(room.summary.id, 'remove', bob)).toBe(false);
    expect(store.errorFor('memberAction')?.code).toBe('not-admin');
    expect(await store.leaveRoom(room.summary.id)).toBe(true);
    expect(store.currentRoomId).toBeNull();
    expect(store.rooms).toEqual([]);
    expect(store.messagesByRoom[room.summary.id]).toBeUndefined();
  });
});
