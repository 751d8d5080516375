/** The link preview sealed under a key derived from the link secret, and the proof a previewer sends instead of an identity. */
import { fromBase64, toBase64 } from '@/shared/encoding';
import { deriveLinkKeys, newLinkSecret, openLinkPreview, sealLinkPreview, signPreviewProof, verifyJoinProof, verifyPreviewProof } from '@/shared/links';

const room = 'a'.repeat(32);
const link = 'b'.repeat(32);
const preview = { room: 'Book club 讀書會', by: 'Alice', approval: true };

describe('sealed link previews', () => {
  it('opens with the link secret, for the room and link it was sealed for', async () => {
    const secret = newLinkSecret();
    const sealed = await sealLinkPreview(secret, room, link, preview);
    expect(sealed).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(sealed).not.toContain('Book');
    await expect(openLinkPreview(secret, room, link, sealed)).resolves.toEqual(preview);
  });

  it('does not open with another secret, for another room or link, or once changed', async () => {
    const secret = newLinkSecret();
    const sealed = await sealLinkPreview(secret, room, link, preview);
    await expect(openLinkPreview(newLinkSecret(), room, link, sealed)).resolves.toBeNull();
    await expect(openLinkPreview(secret, 'c'.repeat(32), link, sealed)).resolves.toBeNull();
    await expect(openLinkPreview(secret, room, 'c'.repeat(32), sealed)).resolves.toBeNull();
    const bytes = fromBase64(sealed);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
    await expect(openLinkPreview(secret, room, link, toBase64(bytes))).resolves.toBeNull();
    await expect(openLinkPreview(secret, room, link, 'not base64 at all!')).resolves.toBeNull();
    await expect(openLinkPreview(secret, room, link, toBase64(new Uint8Array(8)))).resolves.toBeNull();
  });

  it('refuses a sealed text that is not a preview (wrong shape)', async () => {
    const secret = newLinkSecret();
    const sealed = await sealLinkPreview(secret, room, link, { room: 'x', by: 'y', approval: 'yes' } as unknown as typeof preview);
    await expect(openLinkPreview(secret, room, link, sealed)).resolves.toBeNull();
  });
});

describe('preview proofs', () => {
  it('verify for the nonce, room and link they were made for only, and are not join proofs', async () => {
    const keys = await deriveLinkKeys(newLinkSecret());
    const proof = await signPreviewProof(keys, room, link, 'nonce-1');
    await expect(verifyPreviewProof(keys.publicKey, room, link, 'nonce-1', proof)).resolves.toBe(true);
    await expect(verifyPreviewProof(keys.publicKey, room, link, 'nonce-2', proof)).resolves.toBe(false);
    await expect(verifyPreviewProof(keys.publicKey, room, 'c'.repeat(32), 'nonce-1', proof)).resolves.toBe(false);
    await expect(verifyPreviewProof((await deriveLinkKeys(newLinkSecret())).publicKey, room, link, 'nonce-1', proof)).resolves.toBe(false);
    await expect(verifyJoinProof(keys.publicKey, room, link, 'nonce-1', proof)).resolves.toBe(false);
  });
});
