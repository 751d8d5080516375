import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findChromium } from './browser';

declare module 'vitest' {
  export interface ProvidedContext {
    extensionDir: string;
    chromiumPath: string;
  }
}

/** Builds the Chrome extension once for the end-to-end run, and finds a Chromium to load it into. */
export default function setup(project: TestProject) {
  const root = resolve(import.meta.dirname, '../..');
  const chromiumPath = findChromium();
  execFileSync(resolve(root, 'node_modules/.bin/wxt'), ['build'], { cwd: root, stdio: 'pipe', env: { ...process.env, WXT_PARTY_HOST: '' } });
  const extensionDir = resolve(root, '.output/chrome-mv3');
  if (!existsSync(resolve(extensionDir, 'manifest.json'))) throw new Error(`wxt build produced no manifest in ${extensionDir}`);
  project.provide('extensionDir', extensionDir);
  project.provide('chromiumPath', chromiumPath);
}
