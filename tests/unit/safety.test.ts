import { describe, expect, it } from 'vitest';
import { formatSafetyNumber, safetyNumber, safetyQrText, SAFETY_ITERATIONS } from '@/shared/safety';

const ALICE = '0123456789abcdef0123456789abcdef01234567';
const BOB = 'fedcba9876543210fedcba9876543210fedcba98';

describe('safety numbers', () => {
  it('are 60 digits, the same whichever side computes them', async () => {
    const a = await safetyNumber(ALICE, BOB);
    const b = await safetyNumber(BOB, ALICE);
    expect(a).toMatch(/^\d{60}$/);
    expect(b).toBe(a);
  });

  it('match the committed known-answer vector', async () => {
    expect(SAFETY_ITERATIONS).toBe(5200);
    expect(await safetyNumber(ALICE, BOB)).toBe(KNOWN);
    // Upper-case or grouped input is the same identity.
    expect(await safetyNumber(ALICE.toUpperCase(), BOB)).toBe(KNOWN);
  });

  it('differ when either fingerprint differs', async () => {
    const other = ALICE.slice(0, -1) + '8';
    expect(await safetyNumber(other, BOB)).not.toBe(KNOWN);
    expect(await safetyNumber(ALICE, other)).not.toBe(KNOWN);
  });

  it('refuse anything that is not a fingerprint, and a number with oneself', async () => {
    await expect(safetyNumber('not hex', BOB)).rejects.toThrow();
    await expect(safetyNumber(ALICE, ALICE)).rejects.toThrow();
  });

  it('show as 12 groups of 5 and encode both fingerprints for the QR code', async () => {
    expect(formatSafetyNumber(KNOWN).split(' ')).toHaveLength(12);
    expect(formatSafetyNumber(KNOWN).replaceAll(' ', '')).toBe(KNOWN);
    expect(safetyQrText(BOB, ALICE, KNOWN)).toBe(`partychat-safety:1:${ALICE}:${BOB}:${KNOWN}`);
  });
});

/** Computed independently (Python hashlib, the derivation in shared/safety.ts). */
const KNOWN = '911724080833038065271734986367825787748611445115367982696686';
