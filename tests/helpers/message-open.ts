/**
 * What the holder of a room key can read of a message envelope, in either format (v1 or the older OpenPGP one): its
 * payload bytes, or null. Attack tests use it to show that nothing opens under a key an attacker holds.
 */
import type { PublicKey } from '@/shared/crypto';
import { openMessageEnvelope } from '@/shared/message-envelope';
import type { MessageBinding } from '@/shared/message-seal';

export function readWith(gek: Uint8Array, ct: string, binding: MessageBinding, signer: PublicKey): Promise<Uint8Array | null> {
  return openMessageEnvelope(gek, ct, binding, signer).then(
    (opened) => opened.payload,
    () => null,
  );
}
