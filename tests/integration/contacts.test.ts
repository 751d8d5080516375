/**
 * Contacts and safety numbers (issue 10, item 3), against a real `partykit dev`: a member's key is pinned on first
 * use; a lying directory that hands out another key for a pinned fingerprint raises the key-change warning in every
 * room the contact shares with us, drops the verified mark and is refused for new invitations; a member who turns
 * up under a pinned contact's name with another identity is flagged as not that contact.
 */
import * as openpgp from 'openpgp';
import { inject } from 'vitest';
import { formatContactCode } from '@/shared/crypto';
import { startLyingServer, type LyingServer } from '../helpers/adversary/lying-server';
import { createClient, identityKeyOf, invite, onboardedClient, until, type TestClient } from '../helpers/node-client';

const upstream = inject('partyHost');

async function newRoom(admin: TestClient, name: string): Promise<string> {
  const id = (await admin.chat.createRoom(name, 'ephemeral')).id;
  await until(async () => (await admin.chat.getRoom(id)).connected, `${name} connected`);
  return id;
}

async function memberIn(client: TestClient, roomId: string, fingerprint: string) {
  return (await client.chat.getRoom(roomId)).members.find((m) => m.fingerprint === fingerprint);
}

describe('contacts: pinned keys and who is who', () => {
  let proxy: LyingServer;

  beforeAll(async () => {
    proxy = await startLyingServer(upstream);
  });

  afterAll(() => proxy.stop());

  it('a changed key for a pinned contact raises the warning in every shared room, drops the verified mark and is refused', async () => {
    const alice = createClient(proxy.host);
    const bob = createClient(proxy.host);
    await Promise.all([alice.chat.onboard('Alice', 'alice passphrase'), bob.chat.onboard('Bob', 'bob passphrase!')]);
    const bobFp = bob.chat.fingerprint ?? '';
    const [first, second] = [await newRoom(alice, 'First'), await newRoom(alice, 'Second')];
    const rooms = [first, second];
    for (const roomId of rooms) await invite(alice, roomId, bob);
    await until(async () => (await memberIn(alice, second, bobFp)) !== undefined, 'bob in the second room');

    const verified = await alice.chat.setContactVerified(first, bobFp, true);
    expect(verified.members.find((m) => m.fingerprint === bobFp)).toMatchObject({ contactVerified: true, keyWarning: null });
    expect((await memberIn(alice, second, bobFp))?.contactVerified).toBe(true);

    // The server hands out other packets under Bob's fingerprint (his primary key, another user id and binding).
    const forged = (await openpgp.reformatKey({ privateKey: await identityKeyOf(bob), userIDs: [{ name: 'Bob' }], format: 'armored' })).publicKey;
    const stop = proxy.onHttp((req) =>
      req.url === `/parties/directory/${bobFp}` ? { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ publicKey: forged }) } : undefined,
    );
    const third = await newRoom(alice, 'Third');
    const eventsBefore = alice.events.length;
    try {
      await expect(alice.chat.inviteContact(third, formatContactCode(bobFp))).rejects.toMatchObject({ code: 'contact-key-mismatch' });
    } finally {
      stop();
    }
    expect(proxy.frames('to-server', (f) => f?.type === 'append' && f.record.body.includes(bobFp) && f.record.body.includes(third))).toEqual([]);
    for (const roomId of rooms) {
      const detail = await alice.chat.getRoom(roomId);
      expect(detail.keyWarnings).toEqual([{ fingerprint: bobFp, name: 'Bob', kind: 'key-changed', of: null }]);
      expect(detail.members.find((m) => m.fingerprint === bobFp)).toMatchObject({ contactVerified: false, keyWarning: { kind: 'key-changed' } });
      expect(alice.events.slice(eventsBefore)).toContainEqual({ type: 'room', roomId });
    }
    // Still refused with the real key published again, until Alice compares safety numbers and verifies once more.
    await expect(alice.chat.inviteContact(third, formatContactCode(bobFp))).rejects.toMatchObject({ code: 'contact-key-mismatch' });

    // It survives a restart of Alice's browser.
    alice.chat.closeAll();
    const again = createClient(proxy.host, { local: alice.local, session: alice.session });
    await until(async () => (await again.chat.getState()).phase === 'ready', 'alice back');
    expect((await again.chat.getRoom(second)).keyWarnings.map((w) => w.kind)).toEqual(['key-changed']);
    again.chat.closeAll();
    bob.chat.closeAll();
  });

  it('flags a member who presents under a pinned contact’s name with another identity, and leaves the contact verified', async () => {
    const [alice, bob, carol, fakeBob] = await Promise.all([
      onboardedClient(upstream, 'Alice'),
      onboardedClient(upstream, 'Bob'),
      onboardedClient(upstream, 'Carol'),
      onboardedClient(upstream, 'Bob'),
    ]);
    const [bobFp, fakeFp] = [bob.chat.fingerprint ?? '', fakeBob.chat.fingerprint ?? ''];
    const ours = await newRoom(alice, 'Ours');
    await invite(alice, ours, bob);
    await until(async () => (await memberIn(alice, ours, bobFp)) !== undefined, 'bob in our room');
    await alice.chat.setContactVerified(ours, bobFp, true);

    // Carol's room, with Alice and someone else calling themselves Bob.
    const theirs = await newRoom(carol, 'Theirs');
    await invite(carol, theirs, alice);
    await invite(carol, theirs, fakeBob);
    const warned = await until(async () => {
      const detail = await alice.chat.getRoom(theirs).catch(() => null);
      return detail?.keyWarnings.length ? detail : null;
    }, 'the look-alike warning');
    expect(warned.keyWarnings).toEqual([{ fingerprint: fakeFp, name: 'Bob', kind: 'lookalike', of: 'Bob' }]);
    expect(warned.members.find((m) => m.fingerprint === fakeFp)?.contactVerified).toBe(false);
    expect(await memberIn(alice, ours, bobFp)).toMatchObject({ contactVerified: true, keyWarning: null });
    expect((await alice.chat.getRoom(ours)).keyWarnings).toEqual([]);
    for (const c of [alice, bob, carol, fakeBob]) c.chat.closeAll();
  });
});
