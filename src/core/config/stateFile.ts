import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LazyRecord } from './lazyRecord';

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
 * stringifying holds the event loop, and the text goes to the file as it is made, ~64 KB at a
 * time (see `writeJsonInSlices`): a 6 MB document joined in memory first, at 10,000 keys, was one
 * more large object for the collector to count as live.
 */
export async function writeJsonFileAtomicAsync(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    // writeFile writes from the handle's position and retries short writes; one piece at a time.
    await writeJsonInSlices(value, (text) => handle.writeFile(text));
    // On disk before the rename: after a power cut the file is the old state or the new one.
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  await rename(tmp, file);
}

/** Entries of large objects written per event-loop turn. */
const SLICE = 500;
/** Text is handed on in pieces of at least this many characters (the last one may be shorter). */
const PIECE = 64 * 1024;
const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** `JSON.stringify(value)` built over several event-loop turns (see `writeJsonInSlices`). */
export async function stringifyInSlices(value: unknown, pause: () => Promise<void> = yieldToLoop): Promise<string> {
  const pieces: string[] = [];
  await writeJsonInSlices(value, (text) => void pieces.push(text), pause);
  return pieces.join('');
}

/**
 * Writes `JSON.stringify(value)` through `write` over several event-loop turns. Objects with more
 * than 500 entries (10,000 keys' counters or health), and every `LazyRecord`, are written 500
 * entries at a time with a pause in between: in one piece that document held the loop for
 * 30–84 ms at 10,000 keys, a stall every in-flight stream would feel. Entries are read as they are
 * when reached, each one whole; a `LazyRecord` makes each entry only then.
 */
export async function writeJsonInSlices(
  value: unknown,
  write: (text: string) => Promise<void> | void,
  pause: () => Promise<void> = yieldToLoop,
): Promise<void> {
  const out = new Pieces(write);
  let sinceYield = 0;
  const isPlain = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    typeof (v as { toJSON?: unknown }).toJSON !== 'function';
  /** The object's entries, each read when reached, and whether to write them in slices. */
  const entriesOf = (v: Record<string, unknown> | LazyRecord<unknown, unknown>) => {
    if (v instanceof LazyRecord) return { list: v.entries(), large: true };
    const names = Object.keys(v);
    return { list: readAsReached(v, names), large: names.length > SLICE };
  };
  /**
   * An entry inside a large object, written whole by JSON.stringify without an await: 10,000 keys
   * make tens of thousands of such entries, and an async call per entry was ~18 % of the save's
   * CPU. Undefined: the entry is large itself (or lazy), and `visit` walks it.
   */
  const putWhole = (v: unknown): boolean | undefined => {
    if (v instanceof LazyRecord || (isPlain(v) && Object.keys(v).length > SLICE)) return undefined;
    const text = JSON.stringify(v) as string | undefined;
    if (text === undefined) return false; // undefined, a function, a symbol: left out, as JSON.stringify does
    out.put(text);
    return true;
  };
  // Walks small objects near the root to find the large ones; a large object's small entries are
  // handed to JSON.stringify whole (putWhole), which is where the time goes.
  const visit = async (v: unknown, insideLarge: boolean): Promise<boolean> => {
    const lazy = v instanceof LazyRecord;
    if (!lazy && !isPlain(v)) {
      const text = JSON.stringify(v) as string | undefined;
      if (text === undefined) return false; // undefined, a function, a symbol: left out, as JSON.stringify does
      out.put(text);
      return true;
    }
    // Inside a large object only large or lazy entries get here (putWhole wrote the others).
    const { list, large } = entriesOf(v as Record<string, unknown> | LazyRecord<unknown, unknown>);
    out.put('{');
    let first = true;
    const inside = insideLarge || large;
    for (const [k, item] of list) {
      const at = out.mark();
      out.put(`${first ? '' : ','}${JSON.stringify(k)}:`);
      if ((inside ? putWhole(item) : undefined) ?? (await visit(item, inside))) first = false;
      else out.rollBack(at);
      if (out.full) await out.flush();
      if (large && ++sinceYield >= SLICE) {
        sinceYield = 0;
        await pause();
      }
    }
    out.put('}');
    return true;
  };
  await visit(value, false);
  await out.flush();
}

/** Text held until it makes a piece of PIECE characters, then handed to `write`. */
class Pieces {
  private held: string[] = [];
  private chars = 0;

  constructor(private readonly write: (text: string) => Promise<void> | void) {}

  put(text: string): void {
    this.held.push(text);
    this.chars += text.length;
  }

  /** Where the held text ends now, to take back what was put since (only before a flush). */
  mark(): { count: number; chars: number } {
    return { count: this.held.length, chars: this.chars };
  }

  rollBack(at: { count: number; chars: number }): void {
    this.held.length = at.count;
    this.chars = at.chars;
  }

  /** A piece's worth is held: time to flush. */
  get full(): boolean {
    return this.chars >= PIECE;
  }

  async flush(): Promise<void> {
    const text = this.held.join('');
    this.held = [];
    this.chars = 0;
    await this.write(text);
  }
}

/** `obj`'s entries by `names`, each value read when its turn comes (one removed by then is undefined). */
function* readAsReached(obj: Record<string, unknown>, names: string[]): Generator<readonly [string, unknown]> {
  for (const k of names) yield [k, obj[k]];
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
