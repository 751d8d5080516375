import { defineConfig } from 'wxt';
import { captureHostPermissions, JOIN_PAGE_PATH } from './utils/link-capture';

export default defineConfig({
  modules: ['@wxt-dev/module-vue'],
  // No auto-imports: every file says where its names come from (shared/ and party/ must stay runtime-neutral).
  imports: false,
  manifest: ({ browser }) => ({
    name: '__MSG_extName__',
    description: '__MSG_extDescription__',
    default_locale: 'en',
    permissions: [
      'storage',
      'unlimitedStorage',
      'alarms',
      'notifications',
      // Redirects invite links (`<party host>/join/…`) to the extension's join page before they are requested.
      'declarativeNetRequestWithHostAccess',
      ...(browser === 'chrome' ? ['sidePanel'] : []),
    ],
    // The hosts whose invite links are redirected: localhost and the host the extension is built for (WXT_PARTY_HOST).
    host_permissions: captureHostPermissions(process.env.WXT_PARTY_HOST),
    // The redirect's target must be reachable from a navigation that any page (or none) started.
    web_accessible_resources: [{ resources: [JOIN_PAGE_PATH.slice(1)], matches: ['<all_urls>'] }],
    action: { default_title: '__MSG_extName__' },
    // A keyboard shortcut opens the chat panel: Firefox opens its sidebar itself; Chrome's command is handled by the background.
    commands:
      browser === 'firefox'
        ? { _execute_sidebar_action: { suggested_key: { default: 'Alt+Shift+P' }, description: '__MSG_openChat__' } }
        : { 'open-chat': { suggested_key: { default: 'Alt+Shift+P' }, description: '__MSG_openChat__' } },
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
