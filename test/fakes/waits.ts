import type { Event } from '../../src/core/events';

/**
 * Resolves once `cond()` holds, checking now and after each firing of `event`: a test waits for
 * the thing itself, not for time. Rejects with `what` after `timeoutMs` (a bound, not a sleep).
 */
export function until<T>(event: Event<T>, cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const sub = event(() => {
      if (!cond()) return;
      clearTimeout(timer);
      sub.dispose();
      resolve();
    });
  });
}
