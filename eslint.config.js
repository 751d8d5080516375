// ESLint flat config. `npm run lint` runs it (and scripts/check-cycles.mjs); `npm test` runs lint right after the type checks.
// The no-restricted-imports blocks below enforce the folder layout described in the README (section "Layout").
import { defineConfig } from 'eslint/config';
import pluginVue from 'eslint-plugin-vue';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import vueParser from 'vue-eslint-parser';

// Every alias WXT maps to the project root (.wxt/tsconfig.json "paths"): @/x, ~/x, @@/x, ~~/x.
const ALIAS = '(?:@|~|@@|~~)/';
// A relative path that climbs out of the importing file's folder: ../x, ../../x, ./../x.
const UP = '(?:\\./)?(?:\\.\\./)+';

/** Imports of the root folder `folder` (or anything under it), by alias or by a relative path climbing into it. */
function folder(name, message) {
  return { regex: `^(?:${ALIAS}|${UP})${name}(?:/|$)`, message };
}

/** A package and its subpaths: `wxt`, `wxt/browser`. */
function pkg(name, message) {
  return { regex: `^${name}(?:/|$)`, message };
}

const RUNTIME_NEUTRAL = 'shared/ and party/ are runtime-neutral (extension and PartyKit server): no extension, UI or background code.';
const UI_NO_SERVICES = 'UI code talks to the background through utils/backend.ts (typed in utils/protocol-map.ts), never by importing services/.';
const UTILS_DOWNWARD = 'utils/ is shared by the UI pages and the background; it must not import background or UI code.';
const ROOM_MODULES = 'services/room/ modules are plain TypeScript: no wxt (inject browser APIs), and no import back into services/chat (it imports them).';

function restrict(patterns) {
  return { 'no-restricted-imports': ['error', { patterns }] };
}

export default defineConfig(
  {
    ignores: [
      '**/node_modules/**',
      '.output/**',
      '.wxt/**',
      '.tmp/**',
      '.partykit/**',
      'bench/results/**',
      'test-results/**',
      'coverage/**',
      'stats.html',
    ],
  },
  tseslint.configs.recommended,
  pluginVue.configs['flat/essential'],
  {
    languageOptions: {
      ecmaVersion: 'latest',
      sourceType: 'module',
      globals: { ...globals.browser, ...globals.node, ...globals.webextensions },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // `{ type: _type, ...rest }` drops a field on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'error',
    },
  },
  {
    files: ['**/*.vue'],
    languageOptions: {
      parser: vueParser,
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'], sourceType: 'module' },
    },
  },
  // ---- Layout ----
  {
    files: ['shared/**', 'party/**'],
    rules: restrict([
      ...['services', 'utils', 'stores', 'components', 'composables', 'entrypoints'].map((f) => folder(f, RUNTIME_NEUTRAL)),
      ...['wxt', 'vue', 'pinia'].map((p) => pkg(p, RUNTIME_NEUTRAL)),
    ]),
  },
  {
    files: ['components/**', 'stores/**', 'composables/**', 'entrypoints/popup/**', 'entrypoints/sidepanel/**'],
    rules: restrict([folder('services', UI_NO_SERVICES)]),
  },
  {
    files: ['utils/**'],
    rules: restrict(['services', 'stores', 'components'].map((f) => folder(f, UTILS_DOWNWARD))),
  },
  {
    files: ['services/room/**'],
    rules: restrict([
      pkg('wxt', ROOM_MODULES),
      { regex: `^(?:${ALIAS}services/chat|${UP}(?:services/)?chat)(?:\\.ts)?$`, message: ROOM_MODULES },
    ]),
  },
);
