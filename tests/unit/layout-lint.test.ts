// @vitest-environment node
/**
 * The folder layout (README, "Layout") is enforced by `npm run lint`: these tests prove the rules in
 * eslint.config.js bite, and that scripts/check-cycles.mjs finds import cycles.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ESLint } from 'eslint';

const root = resolve(import.meta.dirname, '../..');
let eslint: ESLint;

beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

/** Lints `code` as if it were the project file `file`; returns the messages. */
async function lint(file: string, code: string) {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  if (!result) throw new Error(`ESLint returned no result for ${file}`);
  return result.messages;
}

/** A module (or a Vue component) that imports `specifier` and uses it. */
function importing(file: string, specifier: string): string {
  const body = `import * as imported from '${specifier}';\nexport const used = imported;\n`;
  return file.endsWith('.vue') ? `<script setup lang="ts">\n${body.replace('export ', '')}console.log(used);\n</script>\n\n<template><p>x</p></template>\n` : body;
}

describe('layout rules (no-restricted-imports)', () => {
  it.each([
    ['shared/x.ts', 'vue'],
    ['shared/x.ts', '@/services/store'],
    ['shared/x.ts', '../services/store'],
    ['shared/x.ts', 'wxt/browser'],
    ['shared/x.ts', 'pinia'],
    ['party/x.ts', '../utils/i18n'],
    ['party/x.ts', '@/entrypoints/background'],
    ['components/x.ts', '@/services/chat'],
    ['components/LayoutProbe.vue', '@/services/chat'],
    ['stores/x.ts', '../services/requests'],
    ['composables/x.ts', '~/services/vault'],
    ['entrypoints/popup/x.ts', '../../services/chat'],
    ['entrypoints/sidepanel/App.vue', '@/services/history'],
    ['utils/x.ts', '@/stores/app'],
    ['utils/x.ts', '../components/ErrorNotice.vue'],
    ['utils/x.ts', '@/services/records'],
    ['services/room/x.ts', 'wxt/browser'],
    ['services/room/x.ts', 'wxt'],
    ['services/room/x.ts', '../chat'],
    ['services/room/x.ts', '@/services/chat'],
  ])('%s importing %s is an error', async (file, specifier) => {
    const messages = await lint(file, importing(file, specifier));
    expect(messages.map((m) => [m.ruleId, m.severity])).toEqual([['no-restricted-imports', 2]]);
  });

  it.each([
    ['shared/x.ts', './encoding'],
    ['shared/x.ts', 'zod'],
    ['party/x.ts', '../shared/protocol'],
    ['components/x.ts', '@/stores/app'],
    ['components/LayoutProbe.vue', '@/utils/protocol-map'],
    ['utils/x.ts', '@/shared/protocol'],
    ['utils/x.ts', 'wxt/browser'],
    ['services/x.ts', 'wxt/browser'],
    ['services/room/x.ts', './keys'],
    ['services/room/x.ts', '@/services/records'],
    ['entrypoints/background.ts', '@/services/chat'],
  ])('%s importing %s is fine', async (file, specifier) => {
    expect(await lint(file, importing(file, specifier))).toEqual([]);
  });

  it.each([
    ['explicit any', 'export const f = (x: any) => x;\n', '@typescript-eslint/no-explicit-any'],
    ['non-null assertion', 'export const f = (x: string[]) => x[0]!;\n', '@typescript-eslint/no-non-null-assertion'],
  ])('%s is an error', async (_name, code, rule) => {
    const messages = await lint('shared/x.ts', code);
    expect(messages.map((m) => [m.ruleId, m.severity])).toEqual([[rule, 2]]);
  });
});

describe('scripts/check-cycles.mjs', () => {
  const script = join(root, 'scripts/check-cycles.mjs');
  let tree: string;

  beforeEach(() => {
    tree = mkdtempSync(join(tmpdir(), 'check-cycles-'));
  });
  afterEach(() => {
    rmSync(tree, { recursive: true, force: true });
  });

  function write(files: Record<string, string>) {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    }
  }
  function run(...args: string[]) {
    const result = spawnSync(process.execPath, [script, '--root', tree, ...args], { encoding: 'utf8' });
    return { status: result.status, out: result.stdout + result.stderr };
  }

  it('fails and prints the cycle, following @/ aliases and .vue <script> imports', () => {
    write({
      'shared/a.ts': "import { b } from './b';\nexport const a = b;\n",
      'shared/b.ts': "import { c } from '@/components/C.vue';\nexport const b = c;\n",
      'components/C.vue': "<template><p/></template>\n<script lang=\"ts\">\nimport { a } from '../shared/a';\nexport const c = a;\n</script>\n",
      'utils/d.ts': "import { a } from '@/shared/a';\nexport const d = a;\n",
    });
    const { status, out } = run();
    expect(status).toBe(1);
    expect(out).toContain('components/C.vue -> shared/a.ts -> shared/b.ts -> components/C.vue');
  });

  it('counts type-only imports as edges, and leaves them out with --runtime-only', () => {
    write({
      'stores/app.ts': "import { x } from '@/composables/use';\nexport type AppStore = { x: typeof x };\n",
      'composables/use.ts': "import type { AppStore } from '@/stores/app';\nexport const x = (s: AppStore) => s;\n",
    });
    const typed = run();
    expect(typed.status).toBe(1);
    expect(typed.out).toContain('composables/use.ts -(type)-> stores/app.ts -> composables/use.ts');
    const runtime = run('--runtime-only');
    expect(runtime.status).toBe(0);
    expect(runtime.out).toContain('no cycle');
  });

  it('passes a tree without a cycle with a one-line summary', () => {
    write({
      'shared/a.ts': "export const a = 1;\n",
      'shared/b.ts': "import { a } from './a';\nexport const b = a;\n",
      'services/s.ts': "import { a } from '@/shared/a';\nimport { b } from '../shared/b.ts';\nimport { ref } from 'vue';\nexport const s = [a, b, ref];\n",
    });
    const { status, out } = run();
    expect(status).toBe(0);
    expect(out.trim()).toBe('check-cycles: 3 files, 3 import edges (0 type-only), no cycle');
  });
});
