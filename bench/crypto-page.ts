/** Entry of the Chromium crypto page (bundled by bench/crypto.ts): exposes the runtime-neutral cases. */
import { runKeyDistribution, runMessageCrypto } from './crypto-cases';
import { runEvidence } from './evidence';

(globalThis as unknown as { bench: unknown }).bench = { runKeyDistribution, runMessageCrypto, runEvidence };
