import { MAX_FRAME_CHARS } from '@/shared/constants';
import { directoryClientFrameSchema, parseFrame, roomClientFrameSchema, roomServerFrameSchema } from '@/shared/protocol';

const fp = 'ab'.repeat(20);
const id = 'cd'.repeat(16);

describe('room client frames', () => {
  it.each([
    ['auth', { type: 'auth', fp, sig: 'AAAA' }],
    ['auth with genesis', { type: 'auth', fp, sig: 'AAAA', genesis: { body: '{}', sig: 'AAAA' } }],
    ['msg', { type: 'msg', id, epoch: 0, ct: 'AAAA' }],
    ['append', { type: 'append', record: { body: '{}', sig: 'AAAA' }, keys: [{ to: fp, epoch: 0, ct: 'AAAA' }] }],
    ['keys', { type: 'keys', keys: [{ to: fp, epoch: 3, ct: 'AAAA' }] }],
    ['join-deny', { type: 'join-deny', member: fp }],
    ['keys-ack', { type: 'keys-ack', kids: ['0123456789abcdef'] }],
    ['ping', { type: 'ping' }],
  ])('accepts a valid %s frame', (_name, frame) => {
    const result = parseFrame(roomClientFrameSchema, JSON.stringify(frame));
    expect(result).toMatchObject({ ok: true, frame });
  });

  it.each([
    ['binary data', new ArrayBuffer(4), 'bad-frame', 'JSON text'],
    ['broken JSON', '{"type":', 'bad-frame', 'not valid JSON'],
    ['unknown type', JSON.stringify({ type: 'hack' }), 'bad-frame', 'invalid frame'],
    ['upper-case fingerprint', JSON.stringify({ type: 'auth', fp: fp.toUpperCase(), sig: 'AAAA' }), 'bad-frame', 'fp'],
    ['short message id', JSON.stringify({ type: 'msg', id: 'abc', epoch: 0, ct: 'AAAA' }), 'bad-frame', 'id'],
    ['negative epoch', JSON.stringify({ type: 'msg', id, epoch: -1, ct: 'AAAA' }), 'bad-frame', 'epoch'],
    ['non-base64 ciphertext', JSON.stringify({ type: 'msg', id, epoch: 0, ct: 'hello world!' }), 'bad-frame', 'base64'],
    ['too many key envelopes', JSON.stringify({ type: 'keys', keys: Array(65).fill({ to: fp, epoch: 0, ct: 'AAAA' }) }), 'bad-frame', 'keys'],
    ['oversized frame', JSON.stringify({ type: 'msg', id, epoch: 0, ct: 'A'.repeat(MAX_FRAME_CHARS) }), 'too-large', 'exceeds'],
  ])('rejects %s with a clear error', (_name, raw, code, text) => {
    const result = parseFrame(roomClientFrameSchema, raw);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe(code);
      expect(result.message).toContain(text);
    }
  });

  it('validates server frames on the client too', () => {
    expect(parseFrame(roomServerFrameSchema, JSON.stringify({ type: 'msg', seq: 0, id, epoch: 0, from: fp, ts: 1, ct: 'x' })).ok).toBe(false);
    expect(parseFrame(roomServerFrameSchema, JSON.stringify({ type: 'error', code: 'nope', message: 'x' })).ok).toBe(false);
    expect(parseFrame(roomServerFrameSchema, JSON.stringify({ type: 'ack', id, seq: 4, ts: 1 })).ok).toBe(true);
  });

  it('validates directory frames', () => {
    expect(parseFrame(directoryClientFrameSchema, JSON.stringify({ type: 'invite-ack', room: id })).ok).toBe(true);
    expect(parseFrame(directoryClientFrameSchema, JSON.stringify({ type: 'auth', fp, sig: 'AAAA', publicKey: 'x'.repeat(20_000) })).ok).toBe(false);
  });
});
