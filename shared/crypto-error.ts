/** The error every crypto helper in shared/ throws (kept apart from crypto.ts so code without openpgp can throw it). */
export class CryptoError extends Error {
  constructor(
    readonly code: 'bad-signature' | 'bad-ciphertext' | 'wrong-passphrase' | 'bad-key',
    message: string,
  ) {
    super(message);
  }
}
