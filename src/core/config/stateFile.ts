import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Reads a JSON state file; a missing file is `undefined`, a corrupt one is kept aside as
 * `<file>.corrupt` (so nothing is silently lost) and also reads as `undefined`.
 */
export function readJsonFile(file: string, onCorrupt?: (msg: string) => void): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    renameSync(file, `${file}.corrupt`);
    onCorrupt?.(`${file} was not valid JSON; kept it as ${file}.corrupt and started fresh.`);
    return undefined;
  }
}

/**
 * Writes JSON atomically: a temp file in the same directory, then rename, so a crash leaves
 * either the old state or the new one, never half of each. Mode 0600: it is nobody else's.
 */
export function writeJsonFileAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value));
}

/**
 * `writeJsonFileAtomic` for periodic saves while the proxy serves: neither the disk nor the
 * stringifying holds the event loop (see `stringifyInSlices`).
 */
export async function writeJsonFileAtomicAsync(file: string, value: unknown): Promise<void> {
  const text = await stringifyInSlices(value);
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    // On disk before the rename: after a power cut the file is the old state or the new one.
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
}

/** Entries of large objects written per event-loop turn. */
const SLICE = 500;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * `JSON.stringify(value)` built over several event-loop turns. Objects with more than 500 entries
 * (10,000 keys' counters or health) are written 500 entries at a time with a pause in between:
 * in one piece that document held the loop for 30–84 ms at 10,000 keys, a stall every in-flight
 * stream would feel. Entries are read as they are when reached, each one whole.
 */
export async function stringifyInSlices(value: unknown, pause: () => Promise<void> = yieldToLoop): Promise<string> {
  const out: string[] = [];
  let sinceYield = 0;
  const isPlain = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as { toJSON?: unknown }).toJSON !== 'function';
  // Walks small objects near the root to find the large ones; a large object's small entries are
  // handed to JSON.stringify whole, which is where the time goes.
  const visit = async (v: unknown, insideLarge: boolean): Promise<boolean> => {
    if (!isPlain(v)) {
      const text = JSON.stringify(v) as string | undefined;
      if (text === undefined) return false; // undefined, a function, a symbol: left out, as JSON.stringify does
      out.push(text);
      return true;
    }
    const keys = Object.keys(v);
    const large = keys.length > SLICE;
    if (insideLarge && !large) {
      out.push(JSON.stringify(v));
      return true;
    }
    out.push('{');
    let first = true;
    for (const k of keys) {
      const at = out.length;
      out.push(`${first ? '' : ','}${JSON.stringify(k)}:`);
      if (await visit(v[k], insideLarge || large)) first = false;
      else out.length = at;
      if (large && ++sinceYield >= SLICE) {
        sinceYield = 0;
        await pause();
      }
    }
    out.push('}');
    return true;
  };
  await visit(value, false);
  return out.join('');
}

/** The atomic, owner-only write behind `writeJsonFileAtomic`, for plain text (the token file). */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
