import type { Event } from '../core/events';
import type { KeyState } from '../core/types';
import type { ViewModelHub } from '../core/view/viewModel';

/** One key as other extensions may see it: never its text, only the masked form and its state. */
export interface PublicKey {
  id: string;
  providerId: string;
  label: string;
  /** `sk-…abcd`. */
  masked: string;
  state: KeyState;
  /** Models this key is rate-limited for (model → epoch ms when it is usable again). */
  modelCooldowns: Record<string, number>;
}

/**
 * What `vscode.extensions.getExtension('keyrelay.keyrelay').exports` gives every other extension:
 * where the proxy listens and how the keys are doing, masked. No key, no access token, no way to
 * change anything (DESIGN §6): any installed extension can read an extension's exports.
 */
export interface KeyRelayApi {
  readonly apiVersion: 1;
  /** `http://127.0.0.1:<port>` while the proxy serves (in this window or another), else undefined. */
  endpoint(): string | undefined;
  keys(): PublicKey[];
  /** Fires when keys, their states or the endpoint changed (at most a few times a second). */
  readonly onDidChange: Event<void>;
}

/** The public API over the view model (which already holds masked keys only). */
export function publicApi(hub: ViewModelHub): KeyRelayApi {
  return Object.freeze({
    apiVersion: 1 as const,
    endpoint: () => hub.current.endpoint,
    keys: () =>
      hub.current.keys.map((k) => ({
        id: k.id,
        providerId: k.providerId,
        label: k.label,
        masked: k.masked,
        state: k.state,
        modelCooldowns: { ...k.modelCooldowns },
      })),
    onDidChange: (listener: (e: void) => unknown, thisArgs?: unknown, disposables?: Array<{ dispose(): void }>) =>
      hub.onDidChange(() => listener(undefined), thisArgs, disposables),
  });
}
