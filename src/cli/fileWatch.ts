import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Disposable } from '../core/events';
import type { Logger } from '../core/types';

/** Changes within this window count as one (editors write a file in several steps). */
const SETTLE_MS = 300;

/**
 * Calls `onChange(file)` once a watched file has changed and settled. The directory is watched,
 * not the file: editors and `mv` replace a file, and a watch on the old one would go quiet.
 */
export function watchFiles(
  files: Array<string | undefined>,
  onChange: (file: string) => void,
  log: Logger,
): Disposable {
  const watchers: FSWatcher[] = [];
  const timers = new Map<string, NodeJS.Timeout>();
  for (const file of new Set(files.filter((f): f is string => !!f).map((f) => resolve(f)))) {
    try {
      const w = watch(dirname(file), (_event, name) => {
        if (name !== null && name !== basename(file)) return;
        clearTimeout(timers.get(file));
        timers.set(file, setTimeout(() => onChange(file), SETTLE_MS).unref());
      });
      w.on('error', (err) => log.warn(`Stopped watching ${file} (${err.message}); send SIGHUP to reload it.`));
      watchers.push(w);
    } catch (err) {
      log.warn(`Cannot watch ${file} (${(err as Error).message}); send SIGHUP to reload it.`);
    }
  }
  return {
    dispose() {
      for (const w of watchers) w.close();
      for (const t of timers.values()) clearTimeout(t);
    },
  };
}
