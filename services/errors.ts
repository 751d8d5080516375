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

export function toUserError(error: unknown): UserError {
  if (error instanceof UserFacingError) return { code: error.code, message: error.message };
  console.error(error);
  return { code: 'internal', message: error instanceof Error ? error.message : String(error) };
}
