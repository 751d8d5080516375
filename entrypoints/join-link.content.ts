import { browser } from 'wxt/browser';
import { defineContentScript } from 'wxt/utils/define-content-script';
import { captureMatches, isJoinPath, type CaptureMessage } from '@/utils/link-capture';

/** Hands an opened invite link (fragment secret included) to the extension, which takes the tab over. */
export default defineContentScript({
  matches: captureMatches(import.meta.env.WXT_PARTY_HOST),
  runAt: 'document_start',
  main() {
    if (!isJoinPath(location.pathname) || location.hash.length < 2) return;
    const message: CaptureMessage = { kind: 'partychat-capture', url: location.href };
    void browser.runtime.sendMessage(message);
  },
});
