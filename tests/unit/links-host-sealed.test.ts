import { formatHost, httpUrl, parseHost } from '@/services/host';
import { importVaultKey, seal, unseal } from '@/services/sealed';
import { randomBytes, toHex } from '@/shared/encoding';
import { deriveLinkKeys, formatLink, newLinkId, newLinkSecret, parseLink, signJoinProof, toBase64Url, verifyJoinProof } from '@/shared/links';

describe('invite links', () => {
  it('round-trips a link and keeps the secret and the genesis pin in the fragment', () => {
    const secret = newLinkSecret();
    const room = 'a'.repeat(32);
    const link = newLinkId();
    const genesis = toHex(randomBytes(32));
    const url = formatLink('chat.example.org', true, room, link, secret, genesis);
    expect(url.startsWith(`https://chat.example.org/join/${room}/${link}#`)).toBe(true);
    expect(url.split('#')[1]).toMatch(/^[A-Za-z0-9_-]{86}$/);
    expect(new URL(url).pathname).not.toContain(url.split('#')[1]);
    expect(parseLink(url)).toEqual({ host: 'chat.example.org', secure: true, room, link, secret, genesis });
  });

  it('parses a link made before links pinned their room with no genesis (the extension refuses it)', () => {
    const secret = newLinkSecret();
    const url = `http://localhost:1999/join/${'a'.repeat(32)}/${'b'.repeat(32)}#${toBase64Url(secret)}`;
    expect(parseLink(url)).toMatchObject({ secret, genesis: null });
  });

  it('formats no link without a whole genesis hash', () => {
    expect(() => formatLink('x', true, 'a'.repeat(32), 'b'.repeat(32), newLinkSecret(), 'abc')).toThrow();
    expect(() => formatLink('x', true, 'a'.repeat(32), 'b'.repeat(32), newLinkSecret(), '')).toThrow();
  });

  it.each(['not a url', 'ftp://x/join/a/b#c', `http://x/join/${'a'.repeat(32)}/${'b'.repeat(32)}`, `http://x/join/${'a'.repeat(32)}/${'b'.repeat(32)}#short`, `http://x/join/${'a'.repeat(32)}/${'b'.repeat(32)}#${'A'.repeat(64)}`, `http://x/other/${'a'.repeat(32)}/${'b'.repeat(32)}#${'A'.repeat(43)}`])(
    'rejects %s',
    (text) => expect(parseLink(text)).toBeNull(),
  );

  it('derives the same keys from the same secret, and proofs bind room, link and member', async () => {
    const secret = newLinkSecret();
    const [a, b] = await Promise.all([deriveLinkKeys(secret), deriveLinkKeys(secret)]);
    expect(a.publicKey).toBe(b.publicKey);
    expect([...a.wrapKey]).toEqual([...b.wrapKey]);
    const proof = await signJoinProof(a, 'r'.repeat(32), 'l'.repeat(32), 'f'.repeat(40));
    expect(await verifyJoinProof(b.publicKey, 'r'.repeat(32), 'l'.repeat(32), 'f'.repeat(40), proof)).toBe(true);
    expect(await verifyJoinProof(b.publicKey, 'r'.repeat(32), 'l'.repeat(32), 'e'.repeat(40), proof)).toBe(false);
    expect(await verifyJoinProof((await deriveLinkKeys(newLinkSecret())).publicKey, 'r'.repeat(32), 'l'.repeat(32), 'f'.repeat(40), proof)).toBe(false);
    expect(await verifyJoinProof('garbage', 'r', 'l', 'f', 'AAAA')).toBe(false);
  });
});

describe('server addresses', () => {
  it.each([
    ['localhost:1999', { host: 'localhost:1999', secure: false }, 'http://localhost:1999/x'],
    ['chat.example.org', { host: 'chat.example.org', secure: true }, 'https://chat.example.org/x'],
    ['http://chat.example.org:8080/', { host: 'chat.example.org:8080', secure: false }, 'http://chat.example.org:8080/x'],
    ['https://127.0.0.1:1999', { host: '127.0.0.1:1999', secure: true }, 'https://127.0.0.1:1999/x'],
  ])('parses %s', (input, parsed, url) => {
    expect(parseHost(input)).toEqual(parsed);
    expect(httpUrl(parsed, '/x')).toBe(url);
    expect(parseHost(formatHost(parsed))).toEqual(parsed);
  });

  it.each(['', 'not a host!', 'http://', 'a b'])('rejects %j', (input) => expect(parseHost(input)).toBeNull());
});

describe('sealed storage values', () => {
  it('seals and opens, bound to the storage key it was written under', async () => {
    const key = await importVaultKey(randomBytes(32));
    const sealed = await seal(key, { text: 'secret history' }, 'page:r:0');
    expect(JSON.stringify(sealed)).not.toContain('secret history');
    expect(await unseal(key, sealed, 'page:r:0')).toEqual({ text: 'secret history' });
    await expect(unseal(key, sealed, 'page:r:1')).rejects.toThrow();
    await expect(unseal(await importVaultKey(randomBytes(32)), sealed, 'page:r:0')).rejects.toThrow();
  });
});
