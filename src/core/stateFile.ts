import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
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

/** `writeJsonFileAtomic` without blocking the event loop on the disk (periodic saves). */
export async function writeJsonFileAtomicAsync(file: string, value: unknown): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(value), { mode: 0o600 });
  await rename(tmp, file);
}

/** The atomic, owner-only write behind `writeJsonFileAtomic`, for plain text (the token file). */
export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
