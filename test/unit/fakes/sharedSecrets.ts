import { Emitter } from '../../../src/core/events';
import type { SecretStore } from '../../../src/core/keys/keyVault';

/** SecretStorage shared by every window: each `view()` is one window's `context.secrets`. */
export class SharedSecrets {
  readonly data = new Map<string, string>();
  readonly emitter = new Emitter<{ key: string }>();
  view(): SecretStore {
    return {
      get: async (k: string) => this.data.get(k),
      store: async (k: string, v: string) => {
        this.data.set(k, v);
        this.emitter.fire({ key: k });
      },
      delete: async (k: string) => {
        this.data.delete(k);
        this.emitter.fire({ key: k });
      },
      onDidChange: this.emitter.event,
    };
  }
}
