import type { Dispatcher } from 'undici';

/** A controller for driving an undici handler by hand; `onAbort` sees each abort it is asked for. */
export function fakeController(onAbort: (err: Error) => void = () => undefined): Dispatcher.DispatchController {
  return {
    abort: onAbort,
    pause: () => undefined,
    resume: () => undefined,
    aborted: false,
    paused: false,
    reason: null,
  } as unknown as Dispatcher.DispatchController;
}
