/**
 * Bundled by seal-vectors.ts and evaluated in an extension page of the browser under test: checks the committed
 * message seal test vectors with the browser's own WebCrypto (the same code as shared/message-seal.ts).
 */
import { importEd25519Public, openMessageBytes, sealMessageVector, type MessageHeader } from '../../../shared/message-seal';
import vectorFile from '../../fixtures/message-seal-vectors.json';

const hex = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => parseInt(b, 16));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');

export interface VectorResult {
  name: string;
  /** Sealing with the vector's inputs gave exactly its bytes. */
  sealed: boolean;
  /** The vector's bytes opened to its payload, device and counter. */
  opened: boolean;
  /** The vector with one ciphertext byte flipped, or under another message id, was refused. */
  refused: boolean;
}

async function check(): Promise<VectorResult[]> {
  const verifyKey = await importEd25519Public(hex(vectorFile.publicKey));
  const out: VectorResult[] = [];
  for (const v of vectorFile.vectors) {
    const header = v.header as MessageHeader;
    const gek = hex(v.gek);
    const sealed = toHex(await sealMessageVector({ gek, header, payload: hex(v.payload), seed: hex(v.seed), salt: hex(v.salt), nonce: hex(v.nonce) })) === v.sealed;
    const back = await openMessageBytes(gek, hex(v.sealed), header, verifyKey).catch(() => null);
    const opened = back !== null && toHex(back.payload) === v.payload && back.dev === header.dev && back.ctr === header.ctr;
    const flipped = hex(v.sealed);
    flipped[40] = (flipped[40] ?? 0) ^ 1;
    const tamperedOpens = await openMessageBytes(gek, flipped, header, verifyKey).then(() => true, () => false);
    const movedOpens = await openMessageBytes(gek, hex(v.sealed), { ...header, id: `${header.id}x` }, verifyKey).then(() => true, () => false);
    out.push({ name: v.name, sealed, opened, refused: !tamperedOpens && !movedOpens });
  }
  return out;
}

(globalThis as unknown as { __sealVectors: typeof check }).__sealVectors = check;
