/** Opening the chat panel from the popup: Chrome's side panel, Firefox's sidebar. */
import { browser } from 'wxt/browser';

/** `browser` plus Firefox's `sidebarAction`, which the Chrome-based typings do not declare. */
type BrowserWithSidebar = typeof browser & { sidebarAction?: { open(): Promise<void> } };

/**
 * Opens the chat panel. Must be called synchronously inside a user gesture (a click handler, before any
 * `await`), which is why Chrome's window id is fetched beforehand.
 */
export function openSidePanel(windowId: number | undefined): Promise<void> {
  const extensionApi: BrowserWithSidebar = browser;
  if (extensionApi.sidebarAction) return extensionApi.sidebarAction.open();
  if (windowId === undefined) return Promise.reject(new Error('no window to open the side panel in'));
  return browser.sidePanel.open({ windowId });
}
