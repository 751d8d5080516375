/**
 * One shared clock for countdowns (e.g. "Disappears in 4 min"): a reactive `now` that ticks every
 * second while at least one component uses it, and stops when none does.
 */
import { onScopeDispose, readonly, ref, type Ref } from 'vue';

const TICK_MS = 1000;
const now = ref(Date.now());
let users = 0;
let timer: ReturnType<typeof setInterval> | undefined;

export function useNow(): Readonly<Ref<number>> {
  users += 1;
  if (users === 1) {
    now.value = Date.now();
    timer = setInterval(() => (now.value = Date.now()), TICK_MS);
  }
  onScopeDispose(() => {
    users -= 1;
    if (users === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  });
  return readonly(now);
}
