/**
 * Exits once stdout and stderr have passed on everything written to them. A pipe takes 64 KiB at
 * a time and Node queues the rest: `process.exit()` straight after one large write cut
 * `keyrelay status --json | jq` off at 64 KiB. A reader that went away (`| head -1`, EPIPE) has
 * nothing left to wait for.
 */
export function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  flushed(process.stdout, done);
  flushed(process.stderr, done);
}

/** Calls `done` once `stream` has written what it holds (or failed to), exactly once. */
function flushed(stream: NodeJS.WriteStream, done: () => void): void {
  if (stream.writableLength === 0) return done();
  let called = false;
  const once = (): void => {
    if (called) return;
    called = true;
    done();
  };
  stream.once('error', once);
  // Writes complete in order: the callback of an empty write runs after everything before it.
  stream.write('', once);
}
