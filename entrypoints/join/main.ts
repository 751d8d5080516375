/**
 * Where the extension redirects an invite link opened in a tab (`<party host>/join/…`, see
 * utils/link-capture.ts), before the party server is asked for anything. The link's address arrives
 * as `?from=`, its `#secret` as this page's own fragment (the browser carries it over the redirect).
 * The page hands the link to the background, which starts joining and turns this tab into the chat.
 */
import { browser } from 'wxt/browser';
import '@/assets/theme.css';
import { getLocale, t } from '@/utils/i18n';
import { linkFromJoinPage, type CaptureMessage } from '@/utils/link-capture';

document.documentElement.lang = getLocale();
const status = document.getElementById('status');
const url = linkFromJoinPage(location.search, location.hash);
// The secret has done its job here: keep it out of this page's address (history, a reload) from now on.
history.replaceState(null, '', location.pathname);
if (status) {
  status.textContent = t(url ? 'capture.opening' : 'capture.invalid');
  status.dataset.state = url ? 'opening' : 'invalid';
}
if (url) {
  const message: CaptureMessage = { kind: 'partychat-capture', url };
  void browser.runtime.sendMessage(message);
}
