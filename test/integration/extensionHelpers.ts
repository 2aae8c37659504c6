// Shared helpers of the extension's host tests: activation, waits on the extension's own events,
// settings that restore.
import * as assert from 'node:assert';
import * as http from 'node:http';
import * as vscode from 'vscode';
import type { KeyRelayApi } from '../../src/vscode/publicApi';
import { TEST_INTERNALS_COMMAND } from '../../src/vscode/testHook';
import type { TestInternals } from '../../src/vscode/testHook';
import { Setting, SETTINGS_SECTION } from '../../src/vscode/ids';
import type { SettingName } from '../../src/vscode/ids';
import { findFreePort } from '../../src/core/windows/localHttp';
import { until } from '../fakes/waits';

export const EXTENSION_ID = 'keyrelay.keyrelay';

/**
 * The extension's internals, once its keys are loaded and the proxy has started (or failed to).
 * They come through a command that exists only when VS Code runs the extension's tests: its
 * exports are the small masked public API (src/vscode/publicApi.ts).
 */
export async function getApi(): Promise<TestInternals> {
  const ext = vscode.extensions.getExtension<KeyRelayApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not loaded`);
  if (!ext.isActive) await ext.activate();
  const api = await vscode.commands.executeCommand<TestInternals>(TEST_INTERNALS_COMMAND);
  await api.ready;
  return api;
}

/** Resolves once the proxy leads on `port`: checked now and at each change of the controller's state. */
export function leading(api: TestInternals, port?: number, timeoutMs = 10_000): Promise<void> {
  const { controller } = api;
  return until(
    controller.onDidChange,
    () => controller.state.role === 'leader' && (port === undefined || controller.state.port === port),
    `the proxy to lead${port === undefined ? '' : ` on port ${port}`}`,
    timeoutMs,
  );
}

/** A free loopback port: the extension's own finder, so tests and product agree. */
export const freePort = findFreePort;

/** Sets a `keyRelay.*` setting globally and returns a function that puts the old value back. */
export async function setSetting(key: SettingName, value: unknown): Promise<() => Promise<void>> {
  const cfg = vscode.workspace.getConfiguration(SETTINGS_SECTION);
  const old = cfg.inspect(key)?.globalValue;
  await cfg.update(key, value, vscode.ConfigurationTarget.Global);
  return async () => {
    await vscode.workspace.getConfiguration(SETTINGS_SECTION).update(key, old, vscode.ConfigurationTarget.Global);
  };
}

/** Moves the extension's proxy to a free port (so parallel runs never share 8787) and waits for it. */
export async function moveToFreePort(api: TestInternals): Promise<{ port: number; restore: () => Promise<void> }> {
  const port = await freePort();
  const restore = await setSetting(Setting.port, port);
  await leading(api, port);
  return { port, restore };
}

/**
 * Makes this window follow the KeyRelay serving on `port`; returns how to stop following: stopped,
 * with the port setting put back (the caller starts it again if it wants it serving). The proxy is
 * stopped before the setting changes and started once the extension has read the new value: the
 * setting's own restart (src/vscode/lifecycle.ts) would otherwise race a second start, and a
 * command could find this window between the two, serving itself.
 */
export async function followOn(api: TestInternals, port: number): Promise<() => Promise<void>> {
  const { controller, config } = api;
  await controller.stop(0);
  const restorePort = await setSetting(Setting.port, port);
  const unfollow = async () => {
    // Stopped first: when the setting's change reaches the extension, there is nothing to restart.
    await controller.stop(0);
    await restorePort();
  };
  try {
    // VS Code can deliver the change a while after `update` resolved: a generous bound.
    await until(
      config.onDidChange,
      () => config.current.proxy.port === port,
      `the port setting (${port}) read`,
      15_000,
    );
    const state = await controller.start();
    assert.strictEqual(state.role, 'follower', `following the KeyRelay on port ${port} (${state.error ?? ''})`);
  } catch (err) {
    await unfollow();
    throw err;
  }
  return unfollow;
}

/** One HTTP request on loopback without keep-alive; the body is read in full. */
export function httpRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        timeout: 15_000,
        headers: {
          ...headers,
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Replaces some methods of the extension's Prompts for one test; `restore()` puts them back. */
export function stubPrompts(
  api: TestInternals,
  stubs: Partial<Record<'quickPick' | 'input' | 'confirm' | 'info' | 'openFile', (...args: any[]) => Promise<unknown>>>,
): { restore(): void } {
  const p = api.prompts as unknown as Record<string, unknown>;
  const saved = new Map<string, unknown>();
  for (const [k, fn] of Object.entries(stubs)) {
    saved.set(k, p[k]);
    p[k] = fn;
  }
  return {
    restore: () => {
      for (const [k, fn] of saved) p[k] = fn;
    },
  };
}

/** Answers for successive calls of one prompt method, failing loudly when asked once too often. */
export function answers(...values: unknown[]): (...args: unknown[]) => Promise<unknown> {
  const queue = [...values];
  return async (...args: unknown[]) => {
    if (!queue.length) throw new Error(`unexpected extra prompt: ${JSON.stringify(args[0])?.slice(0, 200)}`);
    const v = queue.shift();
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown)(...args) : v;
  };
}
