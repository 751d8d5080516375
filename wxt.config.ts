import { defineConfig } from 'wxt';

export default defineConfig({
  modules: ['@wxt-dev/module-vue'],
  // No auto-imports: every file says where its names come from (shared/ and party/ must stay runtime-neutral).
  imports: false,
  manifest: ({ browser }) => ({
    name: '__MSG_extName__',
    description: '__MSG_extDescription__',
    default_locale: 'en',
    permissions: ['storage', 'unlimitedStorage', 'alarms', 'notifications', ...(browser === 'chrome' ? ['sidePanel'] : [])],
    action: { default_title: '__MSG_extName__' },
    content_security_policy: {
      // openpgp's Argon2 key protection runs as WebAssembly.
      extension_pages: "script-src 'self' 'wasm-unsafe-eval'; object-src 'self';",
    },
    // Firefox 140 (an ESR) and Firefox for Android 142 are the first to know `data_collection_permissions`.
    ...(browser === 'firefox'
      ? {
          browser_specific_settings: {
            gecko: { id: 'partychat@partychat.dev', strict_min_version: '140.0', data_collection_permissions: { required: ['none'] } },
            gecko_android: { strict_min_version: '142.0' },
          },
        }
      : {}),
  }),
});
