/**
 * The plumbing every part of the app store shares: the backend handle, typed requests, a busy flag per
 * user-visible action and the last failure. `ACTIONS` is the one list of those actions; `ActionName`
 * and the `busy` record are derived from it, and `run(action, work)` is the only place that sets them.
 */
import { reactive, ref, shallowRef } from 'vue';
import { BackendError, type Backend } from '@/utils/backend';
import type { RequestOf, RequestType, ResponseOf, UserError } from '@/utils/protocol-map';

/** User-visible operations; each has a busy flag, and `lastErrorAction` names the one that failed last. */
export const ACTIONS = [
  'load',
  'onboard',
  'unlock',
  'lock',
  'setHost',
  'createRoom',
  'openRoom',
  'sendMessage',
  'messageAction',
  'inviteContact',
  'createLink',
  'loadLinks',
  'revokeLink',
  'resetLinks',
  'joinByLink',
  'decideRequest',
  'saveSettings',
  'loadOlder',
  'exportIdentity',
  'importIdentity',
  'forgetRoom',
  'memberAction',
  'leaveRoom',
  'setRoomMuted',
  'dismissUnreadable',
  'setNotificationPreviews',
  'decideInvitation',
  'verifyContact',
] as const;

export type ActionName = (typeof ACTIONS)[number];

/** Turns anything thrown by a backend call into a `UserError`. */
export function toUserError(cause: unknown): UserError {
  if (cause instanceof BackendError) return cause.error;
  const message = cause instanceof Error ? cause.message : String(cause);
  return { code: 'internal', message };
}

/** The backend handle with busy and error state; one per app store. */
export function createRequests() {
  const backend = shallowRef<Backend | null>(null);
  const busy = reactive(Object.fromEntries(ACTIONS.map((action) => [action, false])) as Record<ActionName, boolean>);
  const lastError = ref<UserError | null>(null);
  const lastErrorAction = ref<ActionName | null>(null);

  /** Sends one typed request to the background. */
  function call<K extends RequestType>(type: K, data: RequestOf<K>): Promise<ResponseOf<K>> {
    if (!backend.value) return Promise.reject(new BackendError({ code: 'internal', message: 'the store has no backend' }));
    return backend.value.request(type, data);
  }

  /** Records a failure of `action`. */
  function fail(action: ActionName, cause: unknown): void {
    lastError.value = toUserError(cause);
    lastErrorAction.value = action;
  }

  /** Clears the recorded failure (e.g. when the user dismisses it). */
  function clearError(): void {
    lastError.value = null;
    lastErrorAction.value = null;
  }

  /** The last failure if it came from one of `actions`, else null: lets each form show its own error. */
  function errorFor(...actions: ActionName[]): UserError | null {
    return lastErrorAction.value && actions.includes(lastErrorAction.value) ? lastError.value : null;
  }

  /** Runs a user-initiated action: clears the previous error, sets the busy flag, records a failure (then resolves null). */
  async function run<T>(action: ActionName, work: () => Promise<T>): Promise<T | null> {
    clearError();
    busy[action] = true;
    try {
      return await work();
    } catch (cause) {
      fail(action, cause);
      return null;
    } finally {
      busy[action] = false;
    }
  }

  /** Background refresh after a pushed event: a failure is recorded under `load` but does not clear other errors. */
  async function quietly(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (cause) {
      fail('load', cause);
    }
  }

  return { backend, busy, lastError, lastErrorAction, call, fail, clearError, errorFor, run, quietly };
}

export type Requests = ReturnType<typeof createRequests>;
