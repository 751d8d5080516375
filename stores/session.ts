/**
 * The session part of the app store: the phase (onboard, locked, ready), the identity, the server
 * address, and the actions that change them. Every answer that is an `AppState` goes through
 * `applyState`, which also forgets the rooms' decrypted content once the session is no longer ready.
 */
import { ref } from 'vue';
import type { AppState, IdentityExport, InvitationDecision, InvitationView, LinkPreviewView, MeView, Phase, Result } from '@/utils/protocol-map';
import type { Messages } from './messages';
import { toUserError, type ActionName, type Requests } from './requests';
import type { Rooms } from './rooms';

export function createSession({ call, run }: Requests, rooms: Rooms, messages: Messages) {
  /** `loading` until the background has answered the first `getState`. */
  const phase = ref<Phase | 'loading'>('loading');
  const me = ref<MeView | null>(null);
  const host = ref('');
  /** Whether message notifications show the text (the background's setting). */
  const notificationPreviews = ref(false);
  /** Invitations from people who are not contacts yet, waiting for an answer. */
  const invitations = ref<InvitationView[]>([]);
  /** An invite link opened in a tab, waiting to be previewed and confirmed or dismissed. */
  const capturedLink = ref<string | null>(null);
  /** Rooms whose stored record could not be read (no longer listed), until dismissed. */
  const unreadableRooms = ref(0);

  function applyState(state: AppState): void {
    capturedLink.value = state.capturedLink;
    unreadableRooms.value = state.unreadableRooms;
    phase.value = state.phase;
    me.value = state.me;
    host.value = state.host;
    notificationPreviews.value = state.notificationPreviews;
    invitations.value = state.invitations;
    rooms.api.rooms.value = state.rooms;
    // Decrypted content must not outlive the unlocked session.
    if (state.phase !== 'ready') {
      rooms.api.closeRoom();
      messages.reset();
    }
  }

  async function fetchState(): Promise<void> {
    applyState(await call('getState', undefined));
  }

  /** An action answered with the new state: applies it. Resolves true on success. */
  function stateAction<A extends unknown[]>(action: ActionName, request: (...args: A) => Promise<AppState>) {
    return async (...args: A): Promise<boolean> => {
      const state = await run(action, () => request(...args));
      if (state) applyState(state);
      return state !== null;
    };
  }

  /** What components use (spread into the store). */
  const api = {
    phase,
    me,
    host,
    notificationPreviews,
    invitations,
    capturedLink,
    unreadableRooms,
    /** Dismisses the notice of rooms that could not be read. Resolves true on success. */
    dismissUnreadableRooms: stateAction('dismissUnreadable', () => call('dismissUnreadableRooms', undefined)),
    /** What an invite link says about its room (asked without telling the room who asks), or why it cannot be told. */
    previewLink: async (url: string): Promise<Result<LinkPreviewView>> => {
      try {
        return { ok: true, value: await call('previewLink', { url }) };
      } catch (cause) {
        return { ok: false, error: toUserError(cause) };
      }
    },
    /** Forgets the captured link without joining. Resolves true on success. */
    dismissLink: stateAction('joinByLink', (url: string) => call('dismissLink', { url })),
    /** Reloads the state from the background (also the retry after a failed first load). */
    refresh: async (): Promise<void> => void (await run('load', fetchState)),
    /** Creates the identity (slow: key generation). Resolves true once the phase is `ready`. */
    onboard: stateAction('onboard', (input: { name: string; passphrase: string; host?: string }) => call('onboard', input)),
    /** Unlocks the vault with the passphrase. Resolves true on success. */
    unlock: stateAction('unlock', (passphrase: string) => call('unlock', { passphrase })),
    /** Locks the vault and forgets every decrypted message held by the UI. */
    lock: stateAction('lock', () => call('lock', undefined)),
    /** Changes the server address. Resolves true on success. */
    setHost: stateAction('setHost', (nextHost: string) => call('setHost', { host: nextHost })),
    /** Turns the message text in notifications on or off. Resolves true on success. */
    setNotificationPreviews: stateAction('setNotificationPreviews', (enabled: boolean) => call('setNotificationPreviews', { enabled })),
    /** Accepts (joins), declines or blocks an invitation request. Resolves true on success. */
    decideInvitation: stateAction('decideInvitation', (roomId: string, decision: InvitationDecision) => call('decideInvitation', { roomId, decision })),
    /** Sets this browser up with an identity exported from another one (only before onboarding). Resolves true once ready. */
    importIdentity: stateAction('importIdentity', (input: { content: string; passphrase: string; host?: string }) => call('importIdentity', input)),
    /** Packs the identity for another browser; needs the identity's passphrase. Resolves the file, or null on failure. */
    exportIdentity: (passphrase: string): Promise<IdentityExport | null> => run('exportIdentity', () => call('exportIdentity', { passphrase })),
  };

  return { api, applyState, fetchState };
}
