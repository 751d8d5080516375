import { generateIdentity, unlockPrivateKey, type PrivateKey } from '@/shared/crypto';
import { deriveLinkKeys, newLinkId, newLinkSecret, signJoinProof } from '@/shared/links';
import { applyRecord, ChainError, createAddRecord, createGenesis, createRecord, verifyChain, verifyChainPrefix } from '@/shared/membership';
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
});
