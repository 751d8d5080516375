import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { findChromium } from './browser';
import { findFirefox } from './firefox';

declare module 'vitest' {
  export interface ProvidedContext {
    extensionDir: string;
    chromiumPath: string;
    firefoxExtensionDir: string;
    firefoxPath: string;
  }
}

/** Builds the Chrome and the Firefox extension once for the end-to-end run, and finds the browsers to load them into. */
export default function setup(project: TestProject) {
  const root = resolve(import.meta.dirname, '../..');
  const chromiumPath = findChromium();
  const firefoxPath = findFirefox();
  const build = (args: string[], outDir: string): string => {
    execFileSync(resolve(root, 'node_modules/.bin/wxt'), ['build', ...args], { cwd: root, stdio: 'pipe', env: { ...process.env, WXT_PARTY_HOST: '' } });
    const dir = resolve(root, outDir);
    if (!existsSync(resolve(dir, 'manifest.json'))) throw new Error(`wxt build ${args.join(' ')} produced no manifest in ${dir}`);
    return dir;
  };
  project.provide('extensionDir', build([], '.output/chrome-mv3'));
  project.provide('firefoxExtensionDir', build(['-b', 'firefox'], '.output/firefox-mv2'));
  project.provide('chromiumPath', chromiumPath);
  project.provide('firefoxPath', firefoxPath);
}
