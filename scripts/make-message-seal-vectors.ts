/**
 * Writes tests/fixtures/message-seal-vectors.json: format v1 message seals (shared/message-seal.ts) with fixed
 * inputs (room key, Ed25519 seed, salt, nonce), so Node, Chromium and Firefox can be checked against the same bytes.
 * Run: npx vite-node scripts/make-message-seal-vectors.ts (only when the format changes: the vectors pin it).
 */
import { writeFileSync } from 'node:fs';
import { fromUtf8, toHex, utf8 } from '../shared/encoding';
import { sealMessageVector, type MessageHeader } from '../shared/message-seal';

const bytes = (n: number, start: number) => Uint8Array.from({ length: n }, (_, i) => (start + i * 7) & 0xff);
const seed = bytes(32, 1);
const cases: Array<{ name: string; gek: Uint8Array; salt: Uint8Array; nonce: Uint8Array; header: MessageHeader; payload: Uint8Array }> = [
  {
    name: 'text payload',
    gek: bytes(32, 100),
    salt: bytes(16, 50),
    nonce: bytes(12, 200),
    header: { room: 'a3f1c2d4e5b6a7980a1b2c3d4e5f6071', epoch: 0, from: 'c0ffee0000000000000000000000000000000001', dev: '0123456789abcdef', ctr: 1, id: '00112233445566778899aabbccddeeff' },
    payload: utf8('{"v":1,"t":"text","text":"hello room"}'),
  },
  {
    name: 'empty payload, large epoch and counter, non-ASCII device',
    gek: bytes(32, 3),
    salt: bytes(16, 9),
    nonce: bytes(12, 11),
    header: { room: 'r', epoch: 4294967295, from: 'f', dev: 'appareil-é', ctr: Number.MAX_SAFE_INTEGER, id: 'i' },
    payload: new Uint8Array(0),
  },
];

const vectors = [];
for (const c of cases) {
  const sealed = await sealMessageVector({ gek: c.gek, header: c.header, payload: c.payload, seed, salt: c.salt, nonce: c.nonce });
  vectors.push({ name: c.name, gek: toHex(c.gek), seed: toHex(seed), salt: toHex(c.salt), nonce: toHex(c.nonce), header: c.header, payload: toHex(c.payload), payloadText: fromUtf8(c.payload), sealed: toHex(sealed) });
}
const pair = await crypto.subtle.importKey('pkcs8', new Uint8Array([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20, ...seed]), { name: 'Ed25519' }, true, ['sign']);
const jwk = await crypto.subtle.exportKey('jwk', pair);
const publicKey = toHex(Uint8Array.from(atob((jwk.x ?? '').replace(/-/g, '+').replace(/_/g, '/')), (ch) => ch.charCodeAt(0)));
writeFileSync('tests/fixtures/message-seal-vectors.json', `${JSON.stringify({ format: 'partychat message seal v1 (shared/message-seal.ts)', publicKey, vectors }, null, 2)}\n`);
console.log(`wrote ${vectors.length} vectors`);
