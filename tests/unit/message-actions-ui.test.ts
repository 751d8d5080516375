/**
 * Message actions in the side panel (issue 13): reply with a quote, react, edit and delete one's own messages,
 * links that are clickable and safe (hostile markup stays text), in English and Traditional Chinese, with the
 * fake backend; and each message of ours saying "Sending…", then "Sent", or "Failed: <reason>" with Retry and
 * Discard (issue 11). What the background does with them is tested against a real server in
 * tests/integration/message-actions.test.ts and tests/integration/send-status.test.ts.
 */
import { flushPromises, type VueWrapper } from '@vue/test-utils';
import { fakeBrowser } from 'wxt/testing/fake-browser';
import { linkify } from '@/components/message-text';
import en from '@/locales/en';
import zhTW from '@/locales/zh-TW';
import { failureText, setLocale } from '@/utils/i18n';
import { FakeBackend } from './support/fake-backend';
import { sidePanelMounter } from './support/side-panel';

const { mounted, mountSidePanel } = sidePanelMounter();
const byTestId = (wrapper: VueWrapper, testId: string) => wrapper.find(`[data-testid="${testId}"]`);
const allByTestId = (wrapper: VueWrapper, testId: string) => wrapper.findAll(`[data-testid="${testId}"]`);

beforeEach(() => {
  fakeBrowser.reset();
  setLocale('en');
});

afterEach(() => {
  for (const wrapper of mounted.splice(0)) wrapper.unmount();
});

async function roomWith(fake: FakeBackend) {
  const room = fake.addRoom({ name: 'Friends', others: [{ name: 'Bob', fingerprint: 'b'.repeat(40) }] });
  const { wrapper, store } = await mountSidePanel(fake);
  await store.openRoom(room.summary.id);
  await flushPromises();
  return { wrapper, store, roomId: room.summary.id };
}

/** The message row holding `text`. */
function row(wrapper: VueWrapper, text: string) {
  const found = allByTestId(wrapper, 'message').find((m) => m.text().includes(text));
  if (!found) throw new Error(`no message row with "${text}"`);
  return found;
}

/** A message row of ours by its exact text, with its status line, Retry and Discard. */
function statusRow(wrapper: VueWrapper, text: string) {
  const found = allByTestId(wrapper, 'message').find((m) => m.find('[data-testid="message-text"]').text() === text);
  if (!found) throw new Error(`no message row with "${text}"`);
  return {
    element: found,
    status: () => found.find('[data-testid="message-status"]'),
    retry: () => found.find('[data-testid="message-retry"]'),
    discard: () => found.find('[data-testid="message-discard"]'),
  };
}

async function typeAndSend(wrapper: VueWrapper, text: string): Promise<void> {
  await byTestId(wrapper, 'composer').setValue(text);
  await byTestId(wrapper, 'send').trigger('submit');
  await flushPromises();
}

describe('message actions', () => {
  it('reply: the composer shows what is answered, the sent message quotes it, Escape cancels', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    fake.receive(roomId, { fromName: 'Bob', text: 'Pizza tonight?' });
    await flushPromises();
    await row(wrapper, 'Pizza tonight?').find('[data-testid="message-reply"]').trigger('click');
    expect(byTestId(wrapper, 'composer-reply').text()).toContain('Replying to Bob');
    await byTestId(wrapper, 'composer').trigger('keydown', { key: 'Escape' });
    expect(byTestId(wrapper, 'composer-reply').exists()).toBe(false);
    await row(wrapper, 'Pizza tonight?').find('[data-testid="message-reply"]').trigger('click');
    await typeAndSend(wrapper, 'Yes please');
    const [call] = fake.callsOf('sendMessage') as Array<{ text: string; options?: { replyTo?: string } }>;
    expect(call?.options?.replyTo).toBeTruthy();
    const quote = row(wrapper, 'Yes please').find('[data-testid="message-quote"]');
    expect(quote.text()).toContain('Bob');
    expect(quote.text()).toContain('Pizza tonight?');
    expect(byTestId(wrapper, 'composer-reply').exists()).toBe(false);
  });

  it('react: pick from the quick reactions, shown under the message; clicking it again takes it back', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    fake.receive(roomId, { fromName: 'Bob', text: 'I passed!' });
    await flushPromises();
    await row(wrapper, 'I passed!').find('[data-testid="message-react"]').trigger('click');
    await row(wrapper, 'I passed!').find('[data-testid="reaction-choice"][data-emoji="❤️"]').trigger('click');
    await flushPromises();
    const chip = row(wrapper, 'I passed!').find('[data-testid="reaction"]');
    expect(chip.attributes('data-emoji')).toBe('❤️');
    expect(chip.attributes('aria-pressed')).toBe('true');
    expect(chip.text()).toContain('1');
    expect(byTestId(wrapper, 'reaction-picker').exists()).toBe(false);
    await chip.trigger('click');
    await flushPromises();
    expect(row(wrapper, 'I passed!').find('[data-testid="reaction"]').exists()).toBe(false);
    expect(fake.callsOf('react')).toEqual([expect.objectContaining({ emoji: '❤️' }), expect.objectContaining({ emoji: '' })]);
  });

  it('edit: only our own messages offer it; the box holds the text, Save sends the edit, the message says edited', async () => {
    const fake = new FakeBackend().setUp();
    fake.deliverBeforeReply = true;
    const { wrapper, roomId } = await roomWith(fake);
    fake.receive(roomId, { fromName: 'Bob', text: 'from Bob' });
    await typeAndSend(wrapper, 'See you at 5');
    expect(row(wrapper, 'from Bob').find('[data-testid="message-edit"]').exists()).toBe(false);
    expect(row(wrapper, 'from Bob').find('[data-testid="message-delete"]').exists()).toBe(false);
    await byTestId(wrapper, 'composer').setValue('half-written draft');
    await row(wrapper, 'See you at 5').find('[data-testid="message-edit"]').trigger('click');
    expect(byTestId(wrapper, 'composer-editing').exists()).toBe(true);
    expect((byTestId(wrapper, 'composer').element as HTMLTextAreaElement).value).toBe('See you at 5');
    expect(byTestId(wrapper, 'send').text()).toBe('Save');
    await typeAndSend(wrapper, 'See you at 6');
    expect(fake.callsOf('editMessage')).toEqual([expect.objectContaining({ text: 'See you at 6' })]);
    expect(row(wrapper, 'See you at 6').find('[data-testid="message-edited"]').text()).toBe('edited');
    // The draft typed before editing comes back.
    expect((byTestId(wrapper, 'composer').element as HTMLTextAreaElement).value).toBe('half-written draft');
    expect(byTestId(wrapper, 'composer-editing').exists()).toBe(false);
  });

  it('delete: asks first, then the message says it was deleted and offers nothing more', async () => {
    const fake = new FakeBackend().setUp();
    fake.deliverBeforeReply = true;
    const { wrapper } = await roomWith(fake);
    await typeAndSend(wrapper, 'oops, wrong room');
    await row(wrapper, 'oops, wrong room').find('[data-testid="message-delete"]').trigger('click');
    await byTestId(wrapper, 'delete-confirm-no').trigger('click');
    expect(fake.callsOf('deleteMessage')).toEqual([]);
    await row(wrapper, 'oops, wrong room').find('[data-testid="message-delete"]').trigger('click');
    await byTestId(wrapper, 'delete-confirm-yes').trigger('click');
    await flushPromises();
    expect(fake.callsOf('deleteMessage')).toHaveLength(1);
    const deleted = allByTestId(wrapper, 'message').find((m) => m.attributes('data-deleted') !== undefined);
    expect(deleted?.text()).toContain('You deleted this message');
    expect(deleted?.text()).not.toContain('oops');
    expect(deleted?.find('[data-testid="message-actions"]').exists()).toBe(false);
  });

  it('someone else deleting their message: "This message was deleted", in zh-TW too', async () => {
    setLocale('zh-TW');
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    const message = fake.receive(roomId, { fromName: 'Bob', text: 'secret' });
    await flushPromises();
    fake.changeMessage(roomId, message.id, () => ({ text: '', deleted: true }));
    await flushPromises();
    expect(byTestId(wrapper, 'message-deleted').text()).toBe('此訊息已被刪除');
    expect(wrapper.text()).not.toContain('secret');
  });

  it('a failed action shows its error and leaves the message as it was', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    fake.receive(roomId, { fromName: 'Bob', text: 'hello' });
    await flushPromises();
    fake.failNext('react', 'offline', 'not connected');
    await row(wrapper, 'hello').find('[data-testid="message-react"]').trigger('click');
    await row(wrapper, 'hello').find('[data-testid="reaction-choice"]').trigger('click');
    await flushPromises();
    expect(wrapper.find('[role="alert"]').exists()).toBe(true);
    expect(row(wrapper, 'hello').find('[data-testid="reaction"]').exists()).toBe(false);
  });

  it('a removed member sees no actions', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    fake.receive(roomId, { fromName: 'Bob', text: 'before removal' });
    fake.removeMe(roomId);
    await flushPromises();
    expect(byTestId(wrapper, 'message-actions').exists()).toBe(false);
  });
});

describe('links in messages', () => {
  it('hostile markup is shown as typed, never run or rendered', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    const hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><a href="javascript:alert(1)">click</a> <b>bold</b>';
    fake.receive(roomId, { fromName: 'Mallory', text: hostile });
    await flushPromises();
    const text = row(wrapper, '<img').find('[data-testid="message-text"]');
    expect(text.text()).toBe(hostile);
    expect(text.find('img').exists()).toBe(false);
    expect(text.find('script').exists()).toBe(false);
    expect(text.find('b').exists()).toBe(false);
    expect(text.findAll('a')).toHaveLength(0);
    expect((window as unknown as { pwned?: number }).pwned).toBeUndefined();
  });

  it('web addresses become links that open in a new tab without an opener or referrer', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    fake.receive(roomId, { fromName: 'Bob', text: 'See https://example.org/a?b=1&c=<2>, or www.example.com.' });
    await flushPromises();
    const links = row(wrapper, 'See ').findAll('[data-testid="message-link"]');
    expect(links.map((a) => [a.text(), a.attributes('href'), a.attributes('target'), a.attributes('rel')])).toEqual([
      ['https://example.org/a?b=1&c=', 'https://example.org/a?b=1&c=', '_blank', 'noopener noreferrer'],
      ['www.example.com', 'https://www.example.com/', '_blank', 'noopener noreferrer'],
    ]);
    expect(row(wrapper, 'See ').find('[data-testid="message-text"]').text()).toBe('See https://example.org/a?b=1&c=<2>, or www.example.com.');
  });

  it.each([
    ['javascript:alert(1)', []],
    ['data:text/html,<script>alert(1)</script>', []],
    ['JAVASCRIPT://example.org/%0aalert(1)', []],
    ['(see https://en.wikipedia.org/wiki/Foo_(bar))', ['https://en.wikipedia.org/wiki/Foo_(bar)']],
    ['https://example.org/path.', ['https://example.org/path']],
    ['http://localhost:1999/join/x', ['http://localhost:1999/join/x']],
    ['ftp://example.org/file', []],
    ['nothing here', []],
  ])('linkify(%j) links %j and keeps every character', (text, hrefs) => {
    const segments = linkify(text);
    expect(segments.map((s) => s.text).join('')).toBe(text);
    expect(segments.flatMap((s) => (s.href ? [s.href] : []))).toEqual(hrefs);
  });
});

describe('send status of our messages', () => {
  it('says Sending… while the room reconnects (no failure), then Sent', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    fake.setConnection(roomId, 'reconnecting');
    await typeAndSend(wrapper, 'hello');
    const message = statusRow(wrapper, 'hello');
    expect(message.status().text()).toBe(en['chat.status.sending']);
    expect(message.element.attributes('data-status')).toBe('sending');
    expect(message.retry().exists()).toBe(false);
    fake.setConnection(roomId, 'connected');
    fake.deliverPending();
    await flushPromises();
    expect(statusRow(wrapper, 'hello').status().text()).toBe(en['chat.status.sent']);
  });

  it('says Failed with the server’s reason, and Retry sends it again until it is sent', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await roomWith(fake);
    await typeAndSend(wrapper, 'too long a story');
    fake.refusePending('too-large');
    await flushPromises();
    const message = statusRow(wrapper, 'too long a story');
    expect(message.element.attributes('data-status')).toBe('failed');
    expect(message.status().text()).toBe(`Failed: ${en['chat.failure.too-large']}`);
    expect(message.status().attributes('role')).toBe('alert');
    expect(message.status().classes()).toContain('failed');
    expect(message.retry().text()).toBe(en['chat.retry']);

    await message.retry().trigger('click');
    await flushPromises();
    expect(fake.callsOf('retryMessage')).toHaveLength(1);
    expect(statusRow(wrapper, 'too long a story').status().text()).toBe(en['chat.status.sending']);
    expect(statusRow(wrapper, 'too long a story').retry().exists()).toBe(false);
    fake.deliverPending();
    await flushPromises();
    expect(statusRow(wrapper, 'too long a story').status().text()).toBe(en['chat.status.sent']);
  });

  it('a refusal that arrives before the answer to the send (or to Retry) is not undone by that answer', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await roomWith(fake);
    let release = fake.holdReply('sendMessage');
    await wrapper.find('[data-testid="composer"]').setValue('racing');
    await wrapper.find('[data-testid="send"]').trigger('submit');
    await flushPromises();
    fake.refusePending('too-large');
    await flushPromises();
    release();
    await flushPromises();
    expect(statusRow(wrapper, 'racing').element.attributes('data-status')).toBe('failed');

    release = fake.holdReply('retryMessage');
    await statusRow(wrapper, 'racing').retry().trigger('click');
    await flushPromises();
    expect(statusRow(wrapper, 'racing').status().text()).toBe(en['chat.status.sending']);
    fake.refusePending('too-large', 'still too large');
    await flushPromises();
    release();
    await flushPromises();
    expect(statusRow(wrapper, 'racing').status().text()).toBe(`Failed: ${en['chat.failure.too-large']}`);
  });

  it('Discard removes a failed message from the list', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper } = await roomWith(fake);
    await typeAndSend(wrapper, 'never mind');
    fake.refusePending('not-member');
    await flushPromises();
    expect(statusRow(wrapper, 'never mind').status().text()).toBe(`Failed: ${en['chat.failure.not-member']}`);
    await statusRow(wrapper, 'never mind').discard().trigger('click');
    await flushPromises();
    expect(fake.callsOf('discardMessage')).toHaveLength(1);
    expect(allByTestId(wrapper, 'message').some((m) => m.text().includes('never mind'))).toBe(false);
  });

  it('names storage being full, falls back to the server’s words for a code it does not know, and says it in Traditional Chinese', async () => {
    expect(failureText({ code: 'storage-full', message: 'QUOTA_BYTES quota exceeded' })).toBe(en['chat.failure.storage-full']);
    expect(en['chat.failure.storage-full']).toMatch(/^Storage is full: /u);
    expect(failureText({ code: 'backup-full', message: 'the backup holds 10000 messages' })).toBe(en['chat.failure.backup-full']);
    expect(failureText({ code: 'some-new-code', message: 'not today' })).toBe('the server refused it (not today)');

    const fake = new FakeBackend().setUp();
    const { wrapper } = await roomWith(fake);
    await typeAndSend(wrapper, '很長的故事');
    fake.refusePending('some-new-code', 'not today');
    await flushPromises();
    expect(statusRow(wrapper, '很長的故事').status().text()).toBe('Failed: the server refused it (not today)');
    setLocale('zh-TW');
    await flushPromises();
    expect(statusRow(wrapper, '很長的故事').status().text()).toBe('傳送失敗：伺服器拒絕了它（not today）');
    expect(statusRow(wrapper, '很長的故事').retry().text()).toBe(zhTW['chat.retry']);
    expect(statusRow(wrapper, '很長的故事').discard().text()).toBe(zhTW['chat.discard']);
  });

  it('shows no status, Retry or Discard on other members’ messages', async () => {
    const fake = new FakeBackend().setUp();
    const { wrapper, roomId } = await roomWith(fake);
    fake.receive(roomId, { fromName: 'Bob', text: 'hi there' });
    await flushPromises();
    const message = statusRow(wrapper, 'hi there');
    expect(message.status().exists()).toBe(false);
    expect(message.retry().exists()).toBe(false);
    expect(message.discard().exists()).toBe(false);
  });
});
