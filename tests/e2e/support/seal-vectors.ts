/**
 * The message seal test vectors, checked inside a browser: seal-vectors-page.ts bundled (esbuild, no openpgp: the
 * construction alone) and evaluated in an extension page, where it runs on that browser's WebCrypto.
 */
import { resolve } from 'node:path';
import { build } from 'esbuild';
import vectorFile from '../../fixtures/message-seal-vectors.json';
import type { VectorResult } from './seal-vectors-page';

export async function sealVectorScript(): Promise<string> {
  const out = await build({
    entryPoints: [resolve(import.meta.dirname, 'seal-vectors-page.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0]?.text ?? '';
}

/** What every vector must give in any browser: sealed to its exact bytes, opened, and refused once changed. */
export const EXPECTED_VECTORS: VectorResult[] = vectorFile.vectors.map((v) => ({ name: v.name, sealed: true, opened: true, refused: true }));

/** Runs the vector check through `evaluate` (a page's evaluate of an expression string) and returns its results. */
export async function checkSealVectors(evaluate: (expression: string) => Promise<unknown>): Promise<unknown> {
  await evaluate(await sealVectorScript());
  return evaluate('globalThis.__sealVectors()');
}
