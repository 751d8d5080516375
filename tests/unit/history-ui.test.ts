/**
 * The history UI against the fake background: room settings (admins edit, members read), room events
 * in the chat (en and zh-TW), disappearing-message hints, missing-message notices, the windowed
 * message list with scrollback, identity export and import, and removing a failed join.
 */
import { flushPromises, mount, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import MessageList from '@/components/MessageList.vue';
import { BACKUP_LIMIT_CHOICES, DISAPPEAR_CHOICES, INITIAL_SETTINGS, SERVER_BACKUP_MESSAGES } from '@/components/room-settings';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { MAX_BACKUP_MESSAGES } from '@/shared/constants';
import { DEFAULT_SETTINGS, DISAPPEAR_CHOICES_MS } from '@/shared/membership';
import { MESSAGE_PAGE_SIZE } from '@/stores/app';
import { setLocale } from '@/utils/i18n';
import type { MessageView } from '@/utils/protocol-map';
import { openSettings, sidePanelMounter } from './support/side-panel';
import { FakeBackend, fakeFingerprint, fakeId } from './support/fake-backend';
import { NO_ACTIONS } from './support/fake-data';

const { mounted, mountSidePanel } = sidePanelMounter();

async function openRoom(fake: FakeBackend, roomId: string) {
  const panel = await mountSidePanel(fake);
  await panel.store.openRoom(roomId);
  await flushPromises();
  return panel;
}

const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.find(`[data-testid="${testId}"]`);
const allByTestId = (wrapper: VueWrapper, testId: string) => wrapper.findAll(`[data-testid="${testId}"]`);

/** Gives the message list a layout, which happy-dom does not compute: a viewport and a scrollable height. */
function layOut(el: Element, sizes: { clientHeight: number; scrollHeight: number }): void {
  Object.defineProperty(el, 'clientHeight', { configurable: true, get: () => sizes.clientHeight });
  Object.defineProperty(el, 'scrollHeight', { configurable: true, get: () => sizes.scrollHeight });
}

function textMessage(i: number): MessageView {
  return {
    id: `m${i}`,
    roomId: 'r',
    from: fakeFingerprint('b'),
    fromName: 'Bob',
    text: `message ${i}`,
    ts: Date.UTC(2025, 0, 1) + i * 1000,
    mine: false,
    status: 'received',
    seq: i,
    kind: 'text',
    event: null,
    expiresAt: null,
    ...NO_ACTIONS,
  };
}

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
  vi.restoreAllMocks();
});

describe('room settings', () => {
  it('offers the same choices as the shared settings schema', () => {
    expect(DISAPPEAR_CHOICES).toEqual([...DISAPPEAR_CHOICES_MS]);
    expect(INITIAL_SETTINGS).toEqual(DEFAULT_SETTINGS);
    expect(SERVER_BACKUP_MESSAGES).toBe(MAX_BACKUP_MESSAGES);
    for (const limit of BACKUP_LIMIT_CHOICES) expect(limit === null || limit <= MAX_BACKUP_MESSAGES).toBe(true);
  });

  it('lets an admin of a backup room set the timer, history sharing and retention, and saves exactly that', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Backup room', mode: 'backup' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(byTestId(wrapper, 'room-timer').exists()).toBe(false);

    await byTestId(wrapper, 'room-settings-open').trigger('click');
    const disappear = byTestId(wrapper, 'settings-disappear');
    expect(disappear.element.tagName).toBe('SELECT');
    expect(disappear.findAll('option').map((o) => o.attributes('value'))).toEqual([
      'off',
      '30000',
      '300000',
      '3600000',
      '86400000',
      '604800000',
      '2419200000',
    ]);
    expect(disappear.findAll('option').map((o) => o.text())).toEqual(['Off', '30 seconds', '5 minutes', '1 hour', '1 day', '1 week', '4 weeks']);
    expect((byTestId(wrapper, 'settings-share-history').element as HTMLInputElement).checked).toBe(false);
    expect(wrapper.text()).toContain(en['roomSettings.shareHistory']);
    expect(byTestId(wrapper, 'settings-retention-days').findAll('option').map((o) => o.text())).toEqual([
      'Forever',
      '7 days',
      '30 days',
      '90 days',
      '365 days',
    ]);
    expect(byTestId(wrapper, 'settings-retention-count').findAll('option').map((o) => o.text())).toEqual([
      'No limit',
      '1,000 messages',
      '10,000 messages',
      '100,000 messages',
    ]);
    expect(byTestId(wrapper, 'settings-save').attributes('disabled')).toBeDefined();

    await disappear.setValue('3600000');
    await byTestId(wrapper, 'settings-share-history').setValue(true);
    await byTestId(wrapper, 'settings-retention-days').setValue('30');
    await byTestId(wrapper, 'settings-retention-count').setValue('10000');
    await byTestId(wrapper, 'settings-save').trigger('submit');
    await flushPromises();

    expect(fake.callsOf('setRoomSettings')).toEqual([
      { roomId: room.summary.id, settings: { disappearMs: 3_600_000, shareHistory: true, retentionDays: 30, retentionCount: 10_000 } },
    ]);
    expect(byTestId(wrapper, 'settings-saved').exists()).toBe(true);
    expect(byTestId(wrapper, 'room-timer').text()).toContain('1 h');
    expect(byTestId(wrapper, 'room-timer').attributes('title')).toBe('Messages disappear 1 hour after they are sent');
    // The change shows in the chat as an event line, not as a message.
    expect(allByTestId(wrapper, 'message')).toHaveLength(0);
    const event = byTestId(wrapper, 'room-event');
    expect(event.text()).toContain('Alice set disappearing messages to 1 hour');
    expect(event.text()).toContain('Alice let new members read earlier history');
    expect(event.text()).toContain('Alice set the server to keep the backup for 30 days, at most 10,000 messages');
  });

  it("says, in the sender's language, that the server's backup is full and the message waits", async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Backup room', mode: 'backup' });
    room.summary = { ...room.summary, backupFull: true };
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(byTestId(wrapper, 'room-backup-full').text()).toBe(en['room.backupFull']);
    setLocale('zh-TW');
    await flushPromises();
    expect(byTestId(wrapper, 'room-backup-full').text()).toBe(zhTW['room.backupFull']);
  });

  it("lets an admin of a backup room cap how many messages the server's backup holds before it refuses new ones", async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Backup room', mode: 'backup' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'room-settings-open').trigger('click');
    expect(byTestId(wrapper, 'settings-backup-limit').findAll('option').map((o) => o.text())).toEqual([
      'Server maximum (100,000 messages)',
      '1,000 messages',
      '10,000 messages',
      '50,000 messages',
    ]);
    await byTestId(wrapper, 'settings-backup-limit').setValue('10000');
    await byTestId(wrapper, 'settings-save').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('setRoomSettings')).toEqual([{ roomId: room.summary.id, settings: { ...DEFAULT_SETTINGS, backupLimit: 10_000 } }]);
    expect(byTestId(wrapper, 'room-event').text()).toContain('Alice set the server backup to refuse new messages after 10,000');
  });

  it('turns the timer off again in an ephemeral room, which has no backup options', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Quick', mode: 'ephemeral' });
    fake.room(room.summary.id).settings = { ...DEFAULT_SETTINGS, disappearMs: 300_000 };
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(byTestId(wrapper, 'room-timer').text()).toContain('5 min');

    await byTestId(wrapper, 'room-settings-open').trigger('click');
    // History sharing is offered in both modes (issue 9, attack 4); the backup's retention only in backup rooms.
    expect((byTestId(wrapper, 'settings-share-history').element as HTMLInputElement).checked).toBe(false);
    expect(byTestId(wrapper, 'settings-retention-days').exists()).toBe(false);
    expect((byTestId(wrapper, 'settings-disappear').element as HTMLSelectElement).value).toBe('300000');
    await byTestId(wrapper, 'settings-disappear').setValue('off');
    await byTestId(wrapper, 'settings-save').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('setRoomSettings')).toEqual([{ roomId: room.summary.id, settings: DEFAULT_SETTINGS }]);
    expect(byTestId(wrapper, 'room-timer').exists()).toBe(false);
  });

  it('shows a member the current settings read-only', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Theirs', mode: 'backup', myRole: 'member', others: [{ name: 'Bob', fingerprint: fakeFingerprint('b') }] });
    fake.room(room.summary.id).settings = { disappearMs: 86_400_000, shareHistory: true, retentionDays: 90, retentionCount: null };
    const { wrapper } = await openRoom(fake, room.summary.id);

    await byTestId(wrapper, 'room-settings-open').trigger('click');
    expect(byTestId(wrapper, 'settings-save').exists()).toBe(false);
    expect(byTestId(wrapper, 'settings-disappear').exists()).toBe(false);
    const readonly = byTestId(wrapper, 'settings-readonly');
    expect(byTestId(wrapper, 'settings-disappear-value').text()).toBe('1 day');
    expect(byTestId(wrapper, 'settings-share-history-value').text()).toBe('Yes');
    expect(readonly.text()).toContain('90 days');
    expect(readonly.text()).toContain('No limit');
    expect(readonly.text()).toContain(en['roomSettings.readOnly']);
  });

  it('lets an admin of an ephemeral room share earlier history, and saves only that (retention stays as it was)', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Quick', mode: 'ephemeral' });
    fake.room(room.summary.id).settings = { ...DEFAULT_SETTINGS, retentionDays: 30 };
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'room-settings-open').trigger('click');

    const share = byTestId(wrapper, 'settings-share-history');
    expect((share.element as HTMLInputElement).checked).toBe(false);
    expect(share.attributes('aria-describedby')).toBe('settings-share-history-hint');
    expect(byTestId(wrapper, 'room-settings').text()).toContain(en['roomSettings.shareHistory']);
    expect(byTestId(wrapper, 'settings-share-history-hint').text()).toBe(en['roomSettings.shareHistoryHintEphemeral']);
    expect(byTestId(wrapper, 'room-settings').text()).toContain(en['roomSettings.ephemeralNote']);
    expect(byTestId(wrapper, 'settings-save').attributes('disabled')).toBeDefined();

    await share.setValue(true);
    expect(byTestId(wrapper, 'settings-save').attributes('disabled')).toBeUndefined();
    await byTestId(wrapper, 'settings-save').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('setRoomSettings')).toEqual([{ roomId: room.summary.id, settings: { ...DEFAULT_SETTINGS, retentionDays: 30, shareHistory: true } }]);
    expect(byTestId(wrapper, 'settings-saved').exists()).toBe(true);
    expect(byTestId(wrapper, 'room-event').text()).toContain('Alice let new members read earlier history');

    // And off again.
    await byTestId(wrapper, 'settings-share-history').setValue(false);
    await byTestId(wrapper, 'settings-save').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('setRoomSettings').at(-1)).toEqual({ roomId: room.summary.id, settings: { ...DEFAULT_SETTINGS, retentionDays: 30, shareHistory: false } });
  });

  it('explains history sharing by mode, in English and Traditional Chinese', async () => {
    for (const [locale, texts] of [
      ['en', en],
      ['zh-TW', zhTW],
    ] as const) {
      setLocale(locale);
      for (const mode of ['ephemeral', 'backup'] as const) {
        const fake = new FakeBackend().setUp();
        const room = fake.addRoom({ name: `${mode} room`, mode });
        const { wrapper } = await openRoom(fake, room.summary.id);
        await byTestId(wrapper, 'room-settings-open').trigger('click');
        expect(wrapper.find('label[for="settings-share-history"]').text()).toBe(texts['roomSettings.shareHistory']);
        expect(byTestId(wrapper, 'settings-share-history-hint').text()).toBe(
          texts[mode === 'backup' ? 'roomSettings.shareHistoryHint' : 'roomSettings.shareHistoryHintEphemeral'],
        );
      }
    }
  });

  it('shows a member of an ephemeral room whether earlier history is shared, read-only', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Theirs', mode: 'ephemeral', myRole: 'member', others: [{ name: 'Bob', fingerprint: fakeFingerprint('b') }] });
    fake.room(room.summary.id).settings = { ...DEFAULT_SETTINGS, shareHistory: true };
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'room-settings-open').trigger('click');
    expect(byTestId(wrapper, 'settings-share-history').exists()).toBe(false);
    expect(byTestId(wrapper, 'settings-share-history-value').text()).toBe('Yes');
    expect(byTestId(wrapper, 'settings-readonly').text()).not.toContain(en['roomSettings.retentionDays']);
  });

  it('shows why saving failed', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    await byTestId(wrapper, 'room-settings-open').trigger('click');
    await byTestId(wrapper, 'settings-disappear').setValue('30000');
    fake.failNext('setRoomSettings', 'offline');
    await byTestId(wrapper, 'settings-save').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'room-settings').text()).toContain(en['error.offline']);
  });
});

describe('room events and disappearing messages', () => {
  it.each([
    [
      'en',
      [
        'Bob set disappearing messages to 1 week',
        'Bob let new members read earlier history',
        'Bob turned off disappearing messages',
        'Bob stopped new members from reading earlier history',
      ],
    ],
    ['zh-TW', ['Bob 將訊息自動消失設為 1 週', 'Bob 允許新成員閱讀先前的紀錄', 'Bob 關閉了訊息自動消失', 'Bob 不再讓新成員閱讀先前的紀錄']],
  ] as const)('renders settings changes as event lines in %s, saying what changed', async (locale, expected) => {
    setLocale(locale);
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', mode: 'backup' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'first' });
    fake.changeSettings(room.summary.id, { ...DEFAULT_SETTINGS, disappearMs: 604_800_000 }, 'Bob');
    fake.changeSettings(room.summary.id, { ...DEFAULT_SETTINGS, disappearMs: 604_800_000, shareHistory: true }, 'Bob');
    fake.changeSettings(room.summary.id, { ...DEFAULT_SETTINGS, shareHistory: true }, 'Bob');
    fake.changeSettings(room.summary.id, DEFAULT_SETTINGS, 'Bob');
    await flushPromises();

    const events = allByTestId(wrapper, 'room-event');
    expect(events.map((e) => e.findAll('.sentence').map((line) => line.text()))).toEqual(expected.map((line) => [line]));
    expect(allByTestId(wrapper, 'message').map((m) => m.text())).toEqual([expect.stringContaining('first')]);
    expect(events.every((e) => e.attributes('data-testid') === 'room-event')).toBe(true);
  });

  it('names "an admin" when the event has no name', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    fake.changeSettings(room.summary.id, { ...DEFAULT_SETTINGS, disappearMs: 30_000 }, '');
    await flushPromises();
    expect(byTestId(wrapper, 'room-event').text()).toContain('An admin set disappearing messages to 30 seconds');
  });

  it('shows a countdown on messages that disappear, and drops them when they expire', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    fake.room(room.summary.id).settings = { ...DEFAULT_SETTINGS, disappearMs: 300_000 };
    vi.spyOn(Date, 'now').mockReturnValue(fake.now);
    const { wrapper } = await openRoom(fake, room.summary.id);
    const gone = fake.receive(room.summary.id, { fromName: 'Bob', text: 'soon gone' });
    await flushPromises();

    const hint = byTestId(wrapper, 'message-expiry');
    expect(hint.attributes('aria-label')).toMatch(/^Disappears in \d+ min$/);
    expect(hint.find('svg').exists()).toBe(true);

    fake.expire(room.summary.id, [gone.id]);
    await flushPromises();
    expect(allByTestId(wrapper, 'message')).toHaveLength(0);
  });
});

describe('missing messages', () => {
  it('tells which sender’s messages are missing, above the messages, and counts them in the room list', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team', others: [{ name: 'Bob', fingerprint: fakeFingerprint('b') }] });
    fake.room(room.summary.id).gaps = [
      { fingerprint: fakeFingerprint('b'), name: 'Bob', count: 3 },
      { fingerprint: fakeFingerprint('c'), name: 'Carol', count: 1 },
    ];
    room.summary = { ...room.summary, missing: 4 };
    const { wrapper, store } = await mountSidePanel(fake);
    expect(byTestId(wrapper, 'room-missing').text()).toBe('4 missing');

    await store.openRoom(room.summary.id);
    await flushPromises();
    const gaps = byTestId(wrapper, 'room-gaps');
    expect(gaps.text()).toContain(
      '3 messages from Bob are missing (they were sent while you were away and no member who has them is online)',
    );
    expect(gaps.text()).toContain('1 message from Carol is missing (it was sent while you were away and no member who has it is online)');
    // Above the message list.
    const html = wrapper.html();
    expect(html.indexOf('data-testid="room-gaps"')).toBeLessThan(html.indexOf('data-testid="message-list"'));
  });

  it('shows no notice without gaps', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(byTestId(wrapper, 'room-gaps').exists()).toBe(false);
  });
});

describe('windowed message list', () => {
  it('renders a bounded number of rows for 5,000 messages, the newest at the bottom', async () => {
    const messages = Array.from({ length: 5000 }, (_, i) => textMessage(i + 1));
    const wrapper = mount(MessageList, { props: { messages, loading: false, canLoadOlder: false }, attachTo: document.body });
    mounted.push(wrapper);
    await flushPromises();
    const rows = allByTestId(wrapper, 'message');
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThanOrEqual(60);
    expect(byTestId(wrapper, 'message-rows').attributes('data-total')).toBe('5000');
  });

  it('renders the rows around the scroll position, and stays bounded there', async () => {
    const messages = Array.from({ length: 5000 }, (_, i) => textMessage(i + 1));
    const wrapper = mount(MessageList, { props: { messages, loading: false, canLoadOlder: false }, attachTo: document.body });
    mounted.push(wrapper);
    const scroller = byTestId(wrapper, 'message-list').element as HTMLElement;
    layOut(scroller, { clientHeight: 600, scrollHeight: 5000 * 62 });
    scroller.scrollTop = 2500 * 62;
    await byTestId(wrapper, 'message-list').trigger('scroll');
    await flushPromises();
    const texts = allByTestId(wrapper, 'message').map((m) => m.text());
    expect(texts.length).toBeLessThanOrEqual(60);
    expect(texts.some((t) => t.includes('message 2505'))).toBe(true);
    expect(texts.some((t) => t.includes('message 5000'))).toBe(false);
  });

  it('loads older local pages when scrolled to the top, then the server backup (backup rooms)', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Long', mode: 'backup' });
    // The first page and 90 older messages in this browser, 100 more in the server's backup.
    const total = MESSAGE_PAGE_SIZE + 90;
    fake.fillHistory(room.summary.id, total, { onServer: 100 });
    const { wrapper, store } = await openRoom(fake, room.summary.id);
    expect(allByTestId(wrapper, 'message').length).toBeLessThanOrEqual(60);
    const scroller = byTestId(wrapper, 'message-list');
    layOut(scroller.element, { clientHeight: 600, scrollHeight: total * 62 });

    const scrollToTop = async () => {
      scroller.element.scrollTop = 0;
      await scroller.trigger('scroll');
      await flushPromises();
    };

    await scrollToTop();
    const oldestLoaded = fake.room(room.summary.id).messages[total - MESSAGE_PAGE_SIZE]?.id;
    expect(fake.callsOf('listMessages')).toContainEqual({ roomId: room.summary.id, limit: 100, beforeId: oldestLoaded });
    expect(store.currentMessages).toHaveLength(total);
    expect(fake.callsOf('loadOlder')).toEqual([]);

    await scrollToTop();
    expect(fake.callsOf('loadOlder')).toEqual([{ roomId: room.summary.id }]);
    expect(store.currentMessages).toHaveLength(total + 100);
    expect(store.currentMessages[0]?.text).toBe('message 1');

    await scrollToTop();
    expect(byTestId(wrapper, 'history-start').exists()).toBe(true);
    expect(allByTestId(wrapper, 'message').length).toBeLessThanOrEqual(60);
  });

  it('does not keep asking for older messages of an offline backup room (the freeze), and asks once it is back', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Away', mode: 'backup' });
    room.summary.connected = false;
    fake.fillHistory(room.summary.id, 5, { onServer: 40 });
    const { wrapper, store } = await openRoom(fake, room.summary.id);
    const scroller = byTestId(wrapper, 'message-list');
    // Five rows fit the viewport: the list cannot scroll, so it asks for older messages by itself.
    layOut(scroller.element, { clientHeight: 600, scrollHeight: 320 });
    const asked = () => fake.callsOf('listMessages').length;
    const before = asked();
    fake.receive(room.summary.id, { fromName: 'Bob', text: 'a re-render' });
    for (let i = 0; i < 20 && asked() < before + 50; i++) await flushPromises();
    expect(asked() - before).toBeLessThanOrEqual(2);
    expect(fake.callsOf('loadOlder')).toEqual([]);
    // It says why nothing older shows, instead of claiming this is the start.
    expect(byTestId(wrapper, 'history-start').exists()).toBe(false);
    expect(byTestId(wrapper, 'older-offline').text()).toBe(en['chat.olderOffline']);
    expect(store.olderByRoom[room.summary.id]?.serverDone).toBe(false);

    fake.setConnected(room.summary.id, true);
    for (let i = 0; i < 10 && fake.callsOf('loadOlder').length === 0; i++) await flushPromises();
    for (let i = 0; i < 10 && !store.olderByRoom[room.summary.id]?.serverDone; i++) await flushPromises();
    // Still fits after the first page arrives, so it asks once more and learns the backup has nothing older.
    expect(fake.callsOf('loadOlder')).toEqual([{ roomId: room.summary.id }, { roomId: room.summary.id }]);
    expect(store.currentMessages[0]?.text).toBe('message 1');
    expect(byTestId(wrapper, 'history-start').exists()).toBe(true);
  });

  it('offers a button to load earlier messages, and shows loading meanwhile', async () => {
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Long' });
    fake.fillHistory(room.summary.id, MESSAGE_PAGE_SIZE + 50);
    const { wrapper } = await openRoom(fake, room.summary.id);
    const release = fake.hold('listMessages');
    await byTestId(wrapper, 'load-older').trigger('click');
    await flushPromises();
    expect(byTestId(wrapper, 'loading-older').text()).toBe(en['chat.loadingOlder']);
    release();
    await flushPromises();
    expect(byTestId(wrapper, 'loading-older').exists()).toBe(false);
    expect(byTestId(wrapper, 'history-start').exists()).toBe(true);
  });
});

describe('export identity', () => {
  it('shows the wrong-passphrase error, then downloads the export and shows its text', async () => {
    const fake = new FakeBackend().setUp({ name: 'Alice', passphrase: 'alice passphrase' });
    const { wrapper } = await mountSidePanel(fake);
    const createObjectURL = vi.fn(() => 'blob:export');
    const revokeObjectURL = vi.fn();
    Object.assign(URL, { createObjectURL, revokeObjectURL });
    const clicked: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });

    await openSettings(wrapper);
    await byTestId(wrapper, 'export-passphrase').setValue('not my passphrase');
    await byTestId(wrapper, 'export-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'export-identity').text()).toContain(en['error.wrong-passphrase']);
    expect(byTestId(wrapper, 'export-content').exists()).toBe(false);
    expect(clicked).toHaveLength(0);

    await byTestId(wrapper, 'export-passphrase').setValue('alice passphrase');
    await byTestId(wrapper, 'export-submit').trigger('submit');
    await flushPromises();
    const content = (byTestId(wrapper, 'export-content').element as HTMLTextAreaElement).value;
    expect(content).toContain('fake identity export for Alice');
    expect(byTestId(wrapper, 'export-content').attributes('readonly')).toBeDefined();
    expect(byTestId(wrapper, 'export-identity').text()).not.toContain(en['error.wrong-passphrase']);
    expect(clicked.map((a) => [a.download, a.href])).toEqual([['partychat-Alice.asc', 'blob:export']]);
    expect(createObjectURL).toHaveBeenCalledOnce();
    expect((byTestId(wrapper, 'export-passphrase').element as HTMLInputElement).value).toBe('');
  });
});

describe('import identity', () => {
  async function exportedBy(name: string, passphrase: string): Promise<string> {
    const other = new FakeBackend().setUp({ name, passphrase });
    return (await other.request('exportIdentity', { passphrase })).content;
  }

  it('offers import from the welcome screen and explains a bad file or passphrase', async () => {
    const content = await exportedBy('Alice', 'alice passphrase');
    const fake = new FakeBackend();
    fake.host = 'party.example.com';
    const { wrapper } = await mountSidePanel(fake);

    expect(byTestId(wrapper, 'import-open').text()).toBe(en['import.open']);
    await byTestId(wrapper, 'import-open').trigger('click');
    expect(byTestId(wrapper, 'onboard-name').exists()).toBe(false);
    expect((byTestId(wrapper, 'import-host').element as HTMLInputElement).value).toBe('party.example.com');

    await byTestId(wrapper, 'import-submit').trigger('submit');
    expect(wrapper.text()).toContain(en['import.contentRequired']);
    expect(fake.callsOf('importIdentity')).toEqual([]);

    await byTestId(wrapper, 'import-content').setValue(content);
    await byTestId(wrapper, 'import-passphrase').setValue('wrong passphrase');
    await byTestId(wrapper, 'import-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'error').attributes('data-code')).toBe('bad-import');
    expect(wrapper.text()).toContain(en['error.bad-import']);

    await byTestId(wrapper, 'import-passphrase').setValue('alice passphrase');
    await byTestId(wrapper, 'import-submit').trigger('submit');
    await flushPromises();
    expect(fake.callsOf('importIdentity').at(-1)).toEqual({ content: content.trim(), passphrase: 'alice passphrase', host: 'party.example.com' });
    expect(byTestId(wrapper, 'home-rooms').exists()).toBe(true);
    expect(byTestId(wrapper, 'import-form').exists()).toBe(false);
    expect(wrapper.text()).toContain('Alice');
  });

  it('reads the chosen file into the form', async () => {
    const content = await exportedBy('Alice', 'alice passphrase');
    const fake = new FakeBackend();
    const { wrapper } = await mountSidePanel(fake);
    await byTestId(wrapper, 'import-open').trigger('click');

    const input = byTestId(wrapper, 'import-file');
    const file = new File([content], 'partychat-Alice.asc', { type: 'text/plain' });
    Object.defineProperty(input.element, 'files', { configurable: true, value: [file] });
    await input.trigger('change');
    await flushPromises();
    expect((byTestId(wrapper, 'import-content').element as HTMLTextAreaElement).value).toBe(content);
    expect(wrapper.text()).toContain('Loaded partychat-Alice.asc.');

    await byTestId(wrapper, 'import-passphrase').setValue('alice passphrase');
    await byTestId(wrapper, 'import-submit').trigger('submit');
    await flushPromises();
    expect(byTestId(wrapper, 'home-rooms').exists()).toBe(true);
  });

  it('goes back to creating a new identity', async () => {
    const { wrapper } = await mountSidePanel(new FakeBackend());
    await byTestId(wrapper, 'import-open').trigger('click');
    await byTestId(wrapper, 'import-back').trigger('click');
    expect(byTestId(wrapper, 'onboard-name').exists()).toBe(true);
  });

  it('is translated on the welcome screen', async () => {
    setLocale('zh-TW');
    const { wrapper } = await mountSidePanel(new FakeBackend());
    expect(byTestId(wrapper, 'import-open').text()).toBe(zhTW['import.open']);
    await byTestId(wrapper, 'import-open').trigger('click');
    expect(wrapper.text()).toContain(zhTW['import.title']);
  });
});

describe('failed joins', () => {
  it('removes a room whose join failed', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, store } = await mountSidePanel(fake);
    const roomId = fakeId();
    await store.joinByLink(`http://${fake.host}/join/${roomId}/${fakeId()}#${'k'.repeat(43)}`);
    fake.setJoinState(roomId, 'failed', { code: 'link-expired', message: 'expired' });
    await flushPromises();

    expect(byTestId(wrapper, 'join-status').attributes('data-state')).toBe('failed');
    await byTestId(wrapper, 'room-forget').trigger('click');
    await flushPromises();
    expect(fake.callsOf('forgetRoom')).toEqual([{ roomId }]);
    expect(byTestId(wrapper, 'join-status').exists()).toBe(false);
    expect(allByTestId(wrapper, 'room-item')).toHaveLength(0);
  });

  it('has no Remove button while still joining', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, store } = await mountSidePanel(fake);
    await store.joinByLink(`http://${fake.host}/join/${fakeId()}/${fakeId()}#${'k'.repeat(43)}`);
    await flushPromises();
    expect(byTestId(wrapper, 'join-status').exists()).toBe(true);
    expect(byTestId(wrapper, 'room-forget').exists()).toBe(false);
  });
});

describe('day separators and compact grouping', () => {
  /** Local time, so the test means the same in every time zone. */
  const at = (day: number, hour: number, minute: number) => new Date(2025, 5, day, hour, minute).getTime();
  const NOW = at(10, 12, 0);

  function chat(roomId: string, fake: FakeBackend): void {
    const base = (id: string, ts: number, fields: Partial<MessageView>): MessageView => ({
      ...textMessage(0),
      id,
      roomId,
      ts,
      text: id,
      seq: null,
      ...fields,
    });
    const bob = { from: fakeFingerprint('b'), fromName: 'Bob' };
    const carol = { from: fakeFingerprint('c'), fromName: 'Carol' };
    const me = { from: fake.fingerprint, fromName: fake.name, mine: true, status: 'sent' as const };
    fake.room(roomId).messages = [
      base('bob-1', at(8, 9, 5), bob),
      base('bob-2', at(8, 9, 6), bob),
      base('carol-1', at(9, 23, 59), carol),
      base('carol-2', at(10, 0, 1), carol),
      base('carol-3', at(10, 0, 2), carol),
      base('mine-1', at(10, 0, 3), me),
      base('mine-2', at(10, 0, 4), me),
      base('carol-4', at(10, 0, 5), carol),
      base('carol-5', at(10, 0, 30), carol),
    ].map((m, i) => ({ ...m, seq: i + 1 }));
  }

  it.each([
    ['en', ['Sunday, June 8', 'Yesterday', 'Today'], '9:05 AM'],
    ['zh-TW', ['6月8日 星期日', '昨天', '今天'], '上午9:05'],
  ] as const)('puts a day separator above the first message of each day and a name on the first of each run, in %s', async (locale, days, time) => {
    setLocale(locale);
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    chat(room.summary.id, fake);
    const { wrapper } = await openRoom(fake, room.summary.id);

    const separators = allByTestId(wrapper, 'day-separator');
    const squash = (text: string) => text.replace(/\s/g, '');
    expect(separators.map((s) => squash(s.text()))).toEqual(days.map(squash));
    // Each separator sits in the row of the day's first message, above it.
    expect(separators.map((s) => s.element.closest('li')?.getAttribute('data-id'))).toEqual(['bob-1', 'carol-1', 'carol-2']);
    expect(separators.every((s) => s.element.nextElementSibling?.getAttribute('data-testid') === 'message')).toBe(true);

    // Names: the first of each run only (a new day starts a new run), never on our own bubbles.
    const names = allByTestId(wrapper, 'message').map((m) => (m.find('[data-testid="message-sender"]').exists() ? m.find('[data-testid="message-sender"]').text() : null));
    expect(names).toEqual(['Bob', null, 'Carol', 'Carol', null, null, null, 'Carol', 'Carol']);
    // A hidden name is still there for screen readers.
    expect(allByTestId(wrapper, 'message')[1]?.find('.visually-hidden').text()).toBe('Bob');

    // Time without a leading zero.
    const first = allByTestId(wrapper, 'message')[0]?.find('time').text().replace(/\s/g, ' ');
    expect(first).toContain(time);
    expect(first).not.toMatch(/(^|\D)09:05/);
  });

  it('switches the separators with the language', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(NOW);
    const fake = new FakeBackend().setUp();
    const room = fake.addRoom({ name: 'Team' });
    chat(room.summary.id, fake);
    const { wrapper } = await openRoom(fake, room.summary.id);
    expect(allByTestId(wrapper, 'day-separator').at(-1)?.text()).toBe(en['chat.today']);
    setLocale('zh-TW');
    await flushPromises();
    expect(allByTestId(wrapper, 'day-separator').at(-1)?.text()).toBe(zhTW['chat.today']);
  });

  it('turns "Today" into "Yesterday" at midnight while the list is open', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      vi.setSystemTime(at(10, 23, 58));
      const messages = [{ ...textMessage(1), ts: at(10, 23, 50) }];
      const wrapper = mount(MessageList, { props: { messages, loading: false, canLoadOlder: false }, attachTo: document.body });
      mounted.push(wrapper);
      await flushPromises();
      expect(byTestId(wrapper, 'day-separator').text()).toBe('Today');
      await vi.advanceTimersByTimeAsync(3 * 60_000);
      expect(byTestId(wrapper, 'day-separator').text()).toBe('Yesterday');
    } finally {
      vi.useRealTimers();
    }
  });

  describe('keeps the reading position when older messages are prepended', () => {
    const SEPARATOR = 30;
    const ROW = 62;
    const day = (d: number, i: number) => new Date(2025, 5, d, 10, 0, i).getTime();
    const page = (from: number, count: number, d: number) =>
      Array.from({ length: count }, (_, k) => ({ ...textMessage(from + k), ts: day(d, from + k) }));

    async function scrolledInto(messages: MessageView[], top: number) {
      const wrapper = mount(MessageList, { props: { messages, loading: false, canLoadOlder: true }, attachTo: document.body });
      mounted.push(wrapper);
      const scroller = byTestId(wrapper, 'message-list');
      layOut(scroller.element, { clientHeight: 600, scrollHeight: 1_000_000 });
      scroller.element.scrollTop = top;
      await scroller.trigger('scroll');
      await flushPromises();
      return { wrapper, scroller: scroller.element };
    }

    it.each([
      // The reader is 10 px into the first message (below its separator); older messages of the same day
      // move the separator up to the new first row, and the message must not jump by the separator's height.
      ['of the same day (the separator moves up)', 5, SEPARATOR + 100 * ROW + 10],
      // Older messages of an earlier day: both separators stay, one more above.
      ['of an earlier day (a separator more)', 4, SEPARATOR + 100 * ROW + SEPARATOR + 10],
    ])('%s', async (_name, olderDay, expected) => {
      const newer = page(101, 100, 5);
      const { wrapper, scroller } = await scrolledInto(newer, SEPARATOR + 10);
      expect(allByTestId(wrapper, 'day-separator').map((s) => s.element.closest('li')?.getAttribute('data-id'))).toEqual(['m101']);

      await wrapper.setProps({ messages: [...page(1, 100, olderDay), ...newer] });
      await flushPromises();
      expect(scroller.scrollTop).toBe(expected);
      expect(allByTestId(wrapper, 'message').map((m) => m.text())).toContainEqual(expect.stringContaining('message 101'));
    });

    it('keeps a measured row height without its separator, so it stays right when the separator moves away', async () => {
      // happy-dom has no layout: rows measure 50 px, plus 30 px when they hold a day separator.
      const measuredIds = new Set<string>();
      vi.spyOn(HTMLElement.prototype, 'getBoundingClientRect').mockImplementation(function (this: HTMLElement) {
        const separator = this.matches('[data-testid="day-separator"]');
        const row = this.matches('li.row');
        if (row && this.dataset.id) measuredIds.add(this.dataset.id);
        const height = separator ? SEPARATOR : row ? 50 + (this.querySelector('[data-testid="day-separator"]') ? SEPARATOR : 0) : 0;
        return new DOMRect(0, 0, 300, height);
      });
      const newer = page(101, 60, 5);
      const { wrapper, scroller } = await scrolledInto(newer, 0);
      expect(measuredIds.has('m101')).toBe(true);
      // Read further down, far enough that m101 is no longer rendered.
      scroller.scrollTop = SEPARATOR + 50 * 50;
      await byTestId(wrapper, 'message-list').trigger('scroll');
      await flushPromises();
      const rendered = () => wrapper.findAll('li.row').map((li) => li.attributes('data-id'));
      expect(rendered()).not.toContain('m101');

      // Older messages of the same day: the separator moves from m101 (not rendered) to m1.
      await wrapper.setProps({ messages: [...page(1, 100, 5), ...newer] });
      await flushPromises();
      const ids = rendered();
      expect(ids).not.toContain('m101');
      // Above the first rendered row: the separator, then each row as measured (50 px, m101 without its
      // separator now) or, never rendered, as estimated.
      const first = Number(ids[0]?.slice(1));
      let above = SEPARATOR;
      for (let i = 1; i < first; i++) above += measuredIds.has(`m${i}`) ? 50 : ROW;
      const rows = byTestId(wrapper, 'message-rows').element as HTMLElement;
      expect(rows.style.paddingTop).toBe(`${above}px`);
    });
  });
});
