/**
 * The servers check challenge signatures with party/guard.ts `verifyChallenge` (openpgp's packet code
 * without its stream machinery); it must agree with shared/crypto.ts `verifyDetached` (`openpgp.verify`).
 */
import * as openpgp from 'openpgp';
import { verifyChallenge } from '@/party/guard';
import { generateIdentity, readPublicKey, signDetached, unlockPrivateKey, verifyDetached, type PrivateKey, type PublicKey } from '@/shared/crypto';
import { fromBase64, toBase64, utf8 } from '@/shared/encoding';

describe('challenge signatures (party/guard.ts verifyChallenge)', () => {
  let key: PrivateKey;
  let pub: PublicKey;
  let otherPub: PublicKey;
  let other: PrivateKey;
  const challenge = utf8('partychat-auth-v1\nmain\n0123456789abcdef0123456789abcdef\nfeedface');

  beforeAll(async () => {
    const [a, b] = await Promise.all([generateIdentity('Signer', 'signer passphrase'), generateIdentity('Other', 'other passphrase')]);
    key = await unlockPrivateKey(a.encryptedPrivateKey, 'signer passphrase');
    other = await unlockPrivateKey(b.encryptedPrivateKey, 'other passphrase');
    pub = await readPublicKey(a.publicKey);
    otherPub = await readPublicKey(b.publicKey);
  });

  /** Both verifiers give the same verdict, and it is `expected`. */
  async function agree(signer: PublicKey, data: Uint8Array, sig: string, expected: boolean): Promise<void> {
    expect(await verifyDetached(signer, data, sig)).toBe(expected);
    expect(await verifyChallenge(signer, data, sig)).toBe(expected);
  }

  it('accepts the signature a client sends, and only for its key and its challenge', async () => {
    const sig = await signDetached(key, challenge);
    await agree(pub, challenge, sig, true);
    await agree(otherPub, challenge, sig, false);
    await agree(pub, utf8('partychat-auth-v1\nmain\n0123456789abcdef0123456789abcdef\nfeedfacf'), sig, false);
    await agree(pub, challenge, await signDetached(other, challenge), false);
  });

  it('refuses tampered, truncated, padded and malformed signatures', async () => {
    const bytes = fromBase64(await signDetached(key, challenge));
    const flipped = bytes.slice();
    flipped[flipped.length - 5] = (flipped[flipped.length - 5] ?? 0) ^ 0x01;
    await agree(pub, challenge, toBase64(flipped), false);
    expect(await verifyChallenge(pub, challenge, toBase64(bytes.subarray(0, bytes.length - 1)))).toBe(false);
    expect(await verifyChallenge(pub, challenge, toBase64(new Uint8Array([...bytes, 0])))).toBe(false);
    expect(await verifyChallenge(pub, challenge, toBase64(new Uint8Array([...bytes, ...bytes])))).toBe(false);
    expect(await verifyChallenge(pub, challenge, 'AAAA')).toBe(false);
    expect(await verifyChallenge(pub, challenge, 'not base64 at all')).toBe(false);
    expect(await verifyChallenge(pub, challenge, '')).toBe(false);
  });

  it('reads old-format packet headers as openpgp does', async () => {
    const bytes = fromBase64(await signDetached(key, challenge));
    // A new-format header with a one-octet length: 0xC2, length, body.
    expect(bytes[0]).toBe(0xc2);
    const body = bytes.subarray(2);
    expect(body.length).toBe(bytes[1]);
    await agree(pub, challenge, toBase64(new Uint8Array([0x88, body.length, ...body])), true);
    await agree(pub, challenge, toBase64(new Uint8Array([0x89, 0, body.length, ...body])), true);
    await agree(pub, challenge, toBase64(new Uint8Array([0xc2, 255, 0, 0, 0, body.length, ...body])), true);
    // Not a signature packet (tag 11, literal data) with the same body.
    expect(await verifyChallenge(pub, challenge, toBase64(new Uint8Array([0xcb, body.length, ...body])))).toBe(false);
  });

  it('treats a text-mode signature and a signature of another type as openpgp.verify does', async () => {
    const text = await openpgp.sign({
      message: await openpgp.createMessage({ text: new TextDecoder().decode(challenge) }),
      signingKeys: key,
      detached: true,
      format: 'binary',
    });
    await agree(pub, challenge, toBase64(text as Uint8Array), true);
    // A standalone signature (type 0x02) is not a signature over the challenge.
    const packet = new openpgp.SignaturePacket();
    packet.read(fromBase64(await signDetached(key, challenge)).subarray(2));
    expect(packet.signatureType).toBe(openpgp.enums.signature.binary);
    const standalone = await openpgp.sign({
      message: await openpgp.createMessage({ binary: challenge }),
      signingKeys: key,
      detached: true,
      format: 'binary',
    });
    const tampered = (standalone as Uint8Array).slice();
    tampered[3] = openpgp.enums.signature.standalone; // version, then the type: the hash no longer matches either way
    expect(await verifyChallenge(pub, challenge, toBase64(tampered))).toBe(false);
  });
});
