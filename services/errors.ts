import type { UserError, UserErrorCode } from '@/utils/protocol-map';

/** A failure the person using the extension should see, with a code the UI translates. */
export class UserFacingError extends Error {
  constructor(
    readonly code: UserErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Whether a storage write failed because storage is full: Chrome's `storage.local` says "QUOTA_BYTES quota exceeded",
 * Firefox throws a `QuotaExceededError` (or says "quota").
 */
export function isQuotaError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  return name === 'QuotaExceededError' || (typeof message === 'string' && /quota/iu.test(message));
}

export function toUserError(error: unknown): UserError {
  if (error instanceof UserFacingError) return { code: error.code, message: error.message };
  if (isQuotaError(error)) return { code: 'storage-full', message: (error as Error).message };
  console.error(error);
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}
