/**
 * The extension's entry (package.json "main": dist/extension.js): loads the composition root,
 * src/extension.ts bundled as dist/main.js, through V8's code cache in the extension's global
 * storage (src/core/codeCache.ts), and hands activate/deactivate through. The first start after an
 * install or update compiles and, a few seconds after activation, saves the cache; later ones
 * skip most of the compile.
 */
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type * as Main from './extension';
import { loadCached } from './core/codeCache';

/** Late enough to include what the first requests compile; off the activation's path. */
const SAVE_AFTER_MS = 5_000;

let main: typeof Main | undefined;
let saveTimer: NodeJS.Timeout | undefined;

export function activate(context: vscode.ExtensionContext): ReturnType<typeof Main.activate> {
  const loaded = loadCached<typeof Main>(
    path.join(__dirname, 'main.js'),
    path.join(context.globalStorageUri.fsPath, 'code-cache'),
  );
  main = loaded.exports;
  const api = main.activate(context);
  if (loaded.state !== 'used') {
    saveTimer = setTimeout(loaded.save, SAVE_AFTER_MS);
    saveTimer.unref();
  }
  return api;
}

export function deactivate(): ReturnType<typeof Main.deactivate> {
  clearTimeout(saveTimer);
  return main?.deactivate();
}
