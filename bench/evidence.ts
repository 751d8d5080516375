/**
 * Small measurements, run in the Chromium page next to the crypto cases, behind the recommendations in
 * BENCHMARKS.md: what the project's base64 helpers cost on a sealed history page, and what the UI's
 * `formatTime` costs per rendered timestamp. Runtime-neutral; the project's own functions are timed.
 */
import { fromBase64, toBase64 } from '../shared/encoding';
import { formatTime } from '../utils/i18n';

export interface Evidence {
  pageBytes: number;
  toBase64Ms: number;
  fromBase64Ms: number;
  /** Same bytes through the platform's `Uint8Array.prototype.toBase64` / `Uint8Array.fromBase64` (NaN if absent). */
  nativeToBase64Ms: number;
  nativeFromBase64Ms: number;
  /** 4 KiB `String.fromCharCode.apply` chunks (the portable fallback). */
  chunkedToBase64Ms: number;
  /** 200 timestamps through utils/i18n.ts formatTime, and through one cached Intl.DateTimeFormat. */
  formatTime200Ms: number;
  cachedFormat200Ms: number;
}

function time(run: () => unknown, reps: number): number {
  for (let i = 0; i < Math.min(5, reps); i++) run();
  const start = performance.now();
  for (let i = 0; i < reps; i++) run();
  return (performance.now() - start) / reps;
}

export function runEvidence(pageBytes = 32 * 1024): Evidence {
  const bytes = crypto.getRandomValues(new Uint8Array(pageBytes));
  const text = toBase64(bytes);
  const native = Uint8Array.prototype as unknown as { toBase64?: () => string };
  const nativeFrom = (Uint8Array as unknown as { fromBase64?: (s: string) => Uint8Array }).fromBase64;
  const chunked = (b: Uint8Array) => {
    let binary = '';
    for (let i = 0; i < b.length; i += 0x1000) binary += String.fromCharCode.apply(null, b.subarray(i, i + 0x1000) as unknown as number[]);
    return btoa(binary);
  };
  const now = Date.now();
  const stamps = Array.from({ length: 200 }, (_, i) => now - i * 60_000);
  const cached = new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit' });
  return {
    pageBytes,
    toBase64Ms: time(() => toBase64(bytes), 100),
    fromBase64Ms: time(() => fromBase64(text), 100),
    nativeToBase64Ms: native.toBase64 ? time(() => (bytes as unknown as { toBase64(): string }).toBase64(), 100) : Number.NaN,
    nativeFromBase64Ms: nativeFrom ? time(() => nativeFrom(text), 100) : Number.NaN,
    chunkedToBase64Ms: time(() => chunked(bytes), 100),
    formatTime200Ms: time(() => stamps.map((ts) => formatTime(ts, 'en', now)), 10),
    cachedFormat200Ms: time(() => stamps.map((ts) => cached.format(ts)), 10),
  };
}
