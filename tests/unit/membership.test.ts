import { MAX_BACKUP_MESSAGES } from '@/shared/constants';
import { generateIdentity, unlockPrivateKey, type PrivateKey } from '@/shared/crypto';
import { deriveLinkKeys, newLinkId, newLinkSecret, signJoinProof } from '@/shared/links';
import { applyRecord, ChainError, createAddRecord, createGenesis, createRecord, DEFAULT_SETTINGS, verifyChain, verifyChainPrefix } from '@/shared/membership';
import type { SignedRecord } from '@/shared/protocol';

interface Person {
  fp: string;
  pub: string;
  key: PrivateKey;
}

async function person(name: string): Promise<Person> {
  const id = await generateIdentity(name, 'membership-test');
  return { fp: id.fingerprint, pub: id.publicKey, key: await unlockPrivateKey(id.encryptedPrivateKey, 'membership-test') };
}

const room = '0123456789abcdef0123456789abcdef';

describe('the signed membership chain', () => {
  let admin: Person;
  let bob: Person;
  let carol: Person;
  let genesis: SignedRecord;
  let addBob: SignedRecord;

  beforeAll(async () => {
    [admin, bob, carol] = await Promise.all([person('Admin'), person('Bob'), person('Carol')]);
    genesis = await createGenesis(room, 'ephemeral', admin.key);
    const roster = await verifyChain(room, [genesis]);
    addBob = await createAddRecord(roster, { fingerprint: bob.fp, publicKey: bob.pub, role: 'member' }, admin.key);
  });

  it('makes the creator the first admin and admits members an admin signed', async () => {
    const roster = await verifyChain(room, [genesis, addBob]);
    expect(roster.members.get(admin.fp)).toMatchObject({ role: 'admin', name: 'Admin' });
    expect(roster.members.get(bob.fp)).toMatchObject({ role: 'member', name: 'Bob', addedBy: admin.fp });
    expect(roster.length).toBe(2);
  });

  it('rejects a member added by a non-admin', async () => {
    const roster = await verifyChain(room, [genesis, addBob]);
    const forged = await createAddRecord(roster, { fingerprint: carol.fp, publicKey: carol.pub, role: 'admin' }, bob.key);
    await expect(applyRecord(roster, forged, room)).rejects.toThrow(/admin/);
  });

  it.each([
    ['a tampered body', (r: SignedRecord) => ({ ...r, body: r.body.replace('"role":"member"', '"role":"admin"') }), /signature/],
    ['a signature from another record', (r: SignedRecord) => ({ ...r, sig: 'wrcEAAAA' }), /signature/],
    ['another room', (r: SignedRecord) => ({ ...r, body: r.body.replace(room, 'f'.repeat(32)) }), /another room/],
  ])('rejects %s', async (_what, tamper, error) => {
    const roster = await verifyChain(room, [genesis]);
    await expect(applyRecord(roster, tamper(addBob), room)).rejects.toThrow(error);
  });

  it('rejects records out of order, replayed, or a second genesis', async () => {
    const roster = await verifyChain(room, [genesis, addBob]);
    await expect(applyRecord(roster, addBob, room)).rejects.toThrow(/extend/);
    await expect(applyRecord(roster, genesis, room)).rejects.toThrow(/one genesis/);
    await expect(verifyChain(room, [addBob])).rejects.toBeInstanceOf(ChainError);
  });

  it("lets only an admin cap the room's backup, never above the server's maximum; records without the cap still verify", async () => {
    const roster = await verifyChain(room, [genesis, addBob]);
    const capped = await createRecord<'settings'>(roster, { kind: 'settings', settings: { ...DEFAULT_SETTINGS, backupLimit: 500 } }, admin.key);
    expect((await applyRecord(roster, capped, room)).settings.backupLimit).toBe(500);
    const byMember = await createRecord<'settings'>(roster, { kind: 'settings', settings: { ...DEFAULT_SETTINGS, backupLimit: 500 } }, bob.key);
    await expect(applyRecord(roster, byMember, room)).rejects.toThrow(/admin/);
    const raised = await createRecord<'settings'>(roster, { kind: 'settings', settings: { ...DEFAULT_SETTINGS, backupLimit: MAX_BACKUP_MESSAGES + 1 } }, admin.key);
    await expect(applyRecord(roster, raised, room)).rejects.toBeInstanceOf(Error);
    const older = await createRecord<'settings'>(roster, { kind: 'settings', settings: { disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: null } }, admin.key);
    expect((await applyRecord(roster, older, room)).settings).toEqual({ disappearMs: null, shareHistory: true, retentionDays: null, retentionCount: null });
  });

  it('keeps the verified prefix and names the members after a bad record', async () => {
    const roster = await verifyChain(room, [genesis, addBob]);
    const bad = { ...(await createAddRecord(roster, { fingerprint: carol.fp, publicKey: carol.pub, role: 'member' }, bob.key)) };
    const result = await verifyChainPrefix(room, [genesis, addBob, bad]);
    expect(result.verified).toBe(2);
    expect(result.rejected?.unverified).toEqual([carol.fp]);
    expect(result.roster.members.has(carol.fp)).toBe(false);
  });

  describe('links', () => {
    it('admits a joiner who proves the link secret, counts uses, and honours revoke and limits', async () => {
      let roster = await verifyChain(room, [genesis]);
      const secret = newLinkSecret();
      const keys = await deriveLinkKeys(secret);
      const link = newLinkId();
      const linkRecord = await createRecord<'link'>(roster, { kind: 'link', link, pub: keys.publicKey, approval: false, escrow: true, expires: null, uses: 1, label: null }, admin.key);
      roster = await applyRecord(roster, linkRecord, room);
      const join = async (who: Person, proofKeys = keys) => {
        const proof = await signJoinProof(proofKeys, room, link, who.fp);
        return createRecord<'join'>(roster, { kind: 'join', member: who.fp, key: who.pub, link, proof }, who.key);
      };
      await expect(applyRecord(roster, await join(carol, await deriveLinkKeys(newLinkSecret())), room)).rejects.toThrow(/proof/);
      roster = await applyRecord(roster, await join(carol), room);
      expect(roster.members.get(carol.fp)).toMatchObject({ role: 'member', via: link });
      expect(roster.links.get(link)?.uses).toBe(1);
      await expect(applyRecord(roster, await join(bob), room)).rejects.toThrow(/used up/);
    });

    it('refuses a link with both approval and escrow, joins through approval links, and revoked links', async () => {
      let roster = await verifyChain(room, [genesis]);
      const keys = await deriveLinkKeys(newLinkSecret());
      const both = await createRecord<'link'>(roster, { kind: 'link', link: newLinkId(), pub: keys.publicKey, approval: true, escrow: true, expires: null, uses: null, label: null }, admin.key);
      await expect(applyRecord(roster, both, room)).rejects.toThrow(/approval/);
      const link = newLinkId();
      roster = await applyRecord(roster, await createRecord<'link'>(roster, { kind: 'link', link, pub: keys.publicKey, approval: true, escrow: false, expires: null, uses: null, label: null }, admin.key), room);
      const proof = await signJoinProof(keys, room, link, bob.fp);
      const selfJoin = await createRecord<'join'>(roster, { kind: 'join', member: bob.fp, key: bob.pub, link, proof }, bob.key);
      await expect(applyRecord(roster, selfJoin, room)).rejects.toThrow(/approve/);
      const revoked = await applyRecord(roster, await createRecord<'link-revoke'>(roster, { kind: 'link-revoke', link }, admin.key), room);
      expect(revoked.links.get(link)?.active).toBe(false);
      const banned = await applyRecord(roster, await createRecord<'ban'>(roster, { kind: 'ban', member: carol.fp }, admin.key), room);
      const addCarol = await createAddRecord(banned, { fingerprint: carol.fp, publicKey: carol.pub, role: 'member' }, admin.key);
      await expect(applyRecord(banned, addCarol, room)).rejects.toThrow(/banned/);
    });
  });
  describe('roles', () => {
    /** Admin (the creator), Bob and Carol members. */
    async function threeOf(): Promise<Awaited<ReturnType<typeof verifyChain>>> {
      let roster = await verifyChain(room, [genesis, addBob]);
      roster = await applyRecord(roster, await createAddRecord(roster, { fingerprint: carol.fp, publicKey: carol.pub, role: 'member' }, admin.key), room);
      return roster;
    }
    const role = (roster: Awaited<ReturnType<typeof verifyChain>>, member: Person, to: 'admin' | 'member', signer: Person) =>
      createRecord<'role'>(roster, { kind: 'role', member: member.fp, role: to }, signer.key);

    it('lets an admin promote a member (who may then create links and sign changes) and demote them again', async () => {
      let roster = await threeOf();
      expect(roster.creator).toBe(admin.fp);
      roster = await applyRecord(roster, await role(roster, bob, 'admin', admin), room);
      expect(roster.members.get(bob.fp)).toMatchObject({ role: 'admin', canCreateLinks: true });
      // Bob, now an admin, signs a change of his own.
      roster = await applyRecord(roster, await role(roster, carol, 'admin', bob), room);
      roster = await applyRecord(roster, await role(roster, bob, 'member', admin), room);
      expect(roster.members.get(bob.fp)).toMatchObject({ role: 'member', canCreateLinks: false });
      await expect(applyRecord(roster, await role(roster, bob, 'member', admin), room)).rejects.toThrow(/already/);
    });

    it('refuses role changes signed by a non-admin, and for someone who is not a member', async () => {
      const roster = await threeOf();
      await expect(applyRecord(roster, await role(roster, bob, 'admin', bob), room)).rejects.toThrow(/admin/);
      await expect(applyRecord(roster, await role(roster, carol, 'admin', bob), room)).rejects.toThrow(/admin/);
      const outsider = await person('Dave');
      await expect(applyRecord(roster, await role(roster, outsider, 'admin', admin), room)).rejects.toThrow(/not a member/);
    });

    it('never lets another admin demote or remove the creator; an admin steps down only while another admin remains', async () => {
      let roster = await threeOf();
      roster = await applyRecord(roster, await role(roster, bob, 'admin', admin), room);
      await expect(applyRecord(roster, await role(roster, admin, 'member', bob), room)).rejects.toThrow(/creator/);
      await expect(applyRecord(roster, await createRecord<'remove'>(roster, { kind: 'remove', member: admin.fp }, bob.key), room)).rejects.toThrow(/creator/);
      // Bob steps down himself while the creator stays an admin; then the creator is the last admin and may not.
      const bobDown = await applyRecord(roster, await role(roster, bob, 'member', bob), room);
      expect(bobDown.members.get(bob.fp)?.role).toBe('member');
      await expect(applyRecord(bobDown, await role(bobDown, admin, 'member', admin), room)).rejects.toThrow(/last admin/);
      // The creator may step down while Bob is an admin.
      const creatorDown = await applyRecord(roster, await role(roster, admin, 'member', admin), room);
      expect(creatorDown.members.get(admin.fp)?.role).toBe('member');
    });

    it('refuses the last admin\'s leave unless it names a successor, who becomes an admin with it', async () => {
      const roster = await threeOf();
      const plain = await createRecord<'leave'>(roster, { kind: 'leave', member: admin.fp }, admin.key);
      await expect(applyRecord(roster, plain, room)).rejects.toThrow(/last admin/);
      const toSelf = await createRecord<'leave'>(roster, { kind: 'leave', member: admin.fp, successor: admin.fp }, admin.key);
      await expect(applyRecord(roster, toSelf, room)).rejects.toThrow(/successor/);
      const outsider = await person('Erin');
      const toOutsider = await createRecord<'leave'>(roster, { kind: 'leave', member: admin.fp, successor: outsider.fp }, admin.key);
      await expect(applyRecord(roster, toOutsider, room)).rejects.toThrow(/successor/);
      const handed = await applyRecord(roster, await createRecord<'leave'>(roster, { kind: 'leave', member: admin.fp, successor: bob.fp }, admin.key), room);
      expect(handed.members.has(admin.fp)).toBe(false);
      expect(handed.members.get(bob.fp)).toMatchObject({ role: 'admin', canCreateLinks: true });
      // A member's leave cannot name a successor (no way to make someone an admin without being one).
      const carolNames = await createRecord<'leave'>(roster, { kind: 'leave', member: carol.fp, successor: bob.fp }, carol.key);
      await expect(applyRecord(roster, carolNames, room)).rejects.toThrow(/admin/);
      // A member leaves as before; the last person in the room leaves without a successor.
      expect((await applyRecord(roster, await createRecord<'leave'>(roster, { kind: 'leave', member: carol.fp }, carol.key), room)).members.size).toBe(2);
      const alone = await verifyChain(room, [genesis]);
      expect((await applyRecord(alone, await createRecord<'leave'>(alone, { kind: 'leave', member: admin.fp }, admin.key), room)).members.size).toBe(0);
    });
  });
});
