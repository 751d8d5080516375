/** Copy to the clipboard with short-lived "Copied" / "failed" feedback for the button that did it. */
import { onScopeDispose, ref } from 'vue';

const FEEDBACK_MS = 2000;

export function useCopy() {
  const feedback = ref<'copied' | 'failed' | null>(null);
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function copy(text: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      feedback.value = 'copied';
    } catch {
      feedback.value = 'failed';
    }
    clearTimeout(timer);
    timer = setTimeout(() => (feedback.value = null), FEEDBACK_MS);
  }

  onScopeDispose(() => clearTimeout(timer));
  return { feedback, copy };
}
