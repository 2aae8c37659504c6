import { randomBytes, randomUUID } from 'node:crypto';
import { DisposableBase, Emitter } from '../events';
import type { Event } from '../events';
import type { KeyRecord, Logger, PoolKey } from '../types';
import { keyIdentity } from '../config/importers';
import type { ImportedKey } from '../config/importers';
import type { KeyPool } from '../pool/keyPool';
import { maskKey } from '../redact';

/** What the user gives when adding a key; the record's other fields are derived. */
export type NewKey = ImportedKey;

/** Names under which the vault keeps things (SecretStorage and globalState in VS Code). */
export const VaultKey = {
  /** The non-secret index: `KeyRecord[]`. */
  index: 'keyRelay.keyIndex',
  accessToken: 'keyRelay.accessToken',
  /** One secret per key: `keyRelay.key.<id>`. */
  secretPrefix: 'keyRelay.key.',
} as const;

/** Secrets shared by every window (VS Code's `context.secrets` satisfies this as it is). */
export interface SecretStore {
  get(name: string): PromiseLike<string | undefined>;
  store(name: string, value: string): PromiseLike<void>;
  delete(name: string): PromiseLike<void>;
  /** Fires in every window when a secret is stored or deleted in any of them. */
  readonly onDidChange: Event<{ key: string }>;
}

/** Non-secret values shared by every window (VS Code's `context.globalState` satisfies this). */
export interface ValueStore {
  get<T>(name: string): T | undefined;
  update(name: string, value: unknown): PromiseLike<void>;
}

/**
 * Keys in SecretStorage (one secret per key), the non-secret index in globalState, both mirrored
 * into the pool in memory. SecretStorage is read only here, at load and on change, because
 * `secrets.get` can hang in code-server while no browser is connected: never on the request path.
 */
export class KeyVault extends DisposableBase {
  private readonly _onDidChangeToken = this._register(new Emitter<string>());
  /** The access token changed in another window. */
  readonly onDidChangeToken: Event<string> = this._onDidChangeToken.event;
  private token = '';

  constructor(
    private readonly secrets: SecretStore,
    private readonly memento: ValueStore,
    private readonly pool: KeyPool,
    private readonly log: Logger,
    private readonly prefixOf: (providerId: string) => string | undefined,
  ) {
    super();
    // Fires in every window of this profile: a key added anywhere is served by the leader at once.
    this._register(secrets.onDidChange((e) => void this.onSecretChanged(e.key).catch((err) => log.error(err))));
  }

  get accessToken(): string {
    return this.token;
  }

  /** Reads the index and every secret into the pool; makes the access token on first run. */
  async load(): Promise<void> {
    this.token = (await this.secrets.get(VaultKey.accessToken)) ?? '';
    if (!this.token) {
      this.token = `kr-${randomBytes(24).toString('base64url')}`;
      await this.secrets.store(VaultKey.accessToken, this.token);
    }
    const index = this.index();
    const secrets = await Promise.all(index.map((rec) => this.secrets.get(VaultKey.secretPrefix + rec.id)));
    const keys: PoolKey[] = [];
    index.forEach((rec, i) => {
      const secret = secrets[i];
      if (secret) keys.push({ ...rec, secret });
      else this.log.warn(`Key ${rec.label} (${rec.masked}) has no secret in SecretStorage; skipped.`);
    });
    this.pool.setKeys(keys);
  }

  index(): KeyRecord[] {
    return this.memento.get<KeyRecord[]>(VaultKey.index) ?? [];
  }

  /** The stored keys as `keyIdentity(provider, secret)`: the same text under another provider is another key. */
  keysInUse(): Set<string> {
    return new Set(this.pool.list().map((k) => keyIdentity(k.providerId, k.secret)));
  }

  /** Stores a new key and puts it in the pool. The label defaults to the masked key. */
  async add(input: NewKey): Promise<KeyRecord> {
    const secret = input.secret.trim();
    const masked = maskKey(secret, this.prefixOf(input.providerId));
    const rec: KeyRecord = {
      id: randomUUID(),
      providerId: input.providerId,
      label: input.label?.trim() || this.nextLabel(input.providerId),
      masked,
      addedAt: Date.now(),
      ...(input.models?.length ? { models: input.models } : {}),
      ...(input.baseUrl ? { baseUrl: input.baseUrl } : {}),
      ...(input.weight !== undefined ? { weight: input.weight } : {}),
      ...(input.account ? { account: input.account } : {}),
    };
    // Index first, so another window that sees the secret event can find the record.
    await this.updateIndex((index) => [...index, rec]);
    await this.secrets.store(VaultKey.secretPrefix + rec.id, secret);
    this.pool.upsert({ ...rec, secret });
    return rec;
  }

  /** `openai-3` for an unlabelled key (as the CLI names them); the tree shows the masked key beside it. */
  private nextLabel(providerId: string): string {
    const used = new Set(this.index().map((r) => r.label));
    let n = 1;
    while (used.has(`${providerId}-${n}`)) n++;
    return `${providerId}-${n}`;
  }

  /**
   * Read-modify-write of the index, one at a time: two overlapping writes (an import and a
   * remove, say) would otherwise each start from the old list and the later one drop the other's.
   */
  private updateIndex(change: (index: KeyRecord[]) => KeyRecord[]): Promise<void> {
    const next = this.indexWrites.then(() => this.memento.update(VaultKey.index, change(this.index())));
    this.indexWrites = next.catch(() => undefined);
    return next;
  }
  private indexWrites: Promise<unknown> = Promise.resolve();

  async remove(id: string): Promise<void> {
    await this.updateIndex((index) => index.filter((r) => r.id !== id));
    await this.secrets.delete(VaultKey.secretPrefix + id);
    this.pool.remove(id);
  }

  async rename(id: string, label: string): Promise<void> {
    await this.patch(id, (r) => ({ ...r, label }));
  }

  /** Puts the key in an account (keys of one account share its limits), or takes it out. */
  async setAccount(id: string, account: string | undefined): Promise<void> {
    await this.patch(id, ({ account: _old, ...r }) => (account ? { ...r, account } : r));
  }

  /** Changes a key's record (never its secret) here and, through SecretStorage, in other windows. */
  private async patch(id: string, change: (r: KeyRecord) => KeyRecord): Promise<void> {
    await this.updateIndex((index) => index.map((r) => (r.id === id ? change(r) : r)));
    const key = this.pool.get(id);
    if (!key) return;
    const { secret, ...rec } = key;
    this.pool.upsert({ ...change(rec), secret });
    // globalState has no change event: re-storing the secret tells the other windows to re-read.
    await this.secrets.store(VaultKey.secretPrefix + id, secret);
  }

  private async onSecretChanged(name: string): Promise<void> {
    if (name === VaultKey.accessToken) {
      const t = await this.secrets.get(name);
      if (t && t !== this.token) {
        this.token = t;
        this._onDidChangeToken.fire(t);
      }
      return;
    }
    if (!name.startsWith(VaultKey.secretPrefix)) return;
    const id = name.slice(VaultKey.secretPrefix.length);
    const secret = await this.secrets.get(name);
    if (!secret) {
      if (this.pool.remove(id)) this.log.info(`Key ${id} was removed in another window.`);
      return;
    }
    const rec = await this.findRecord(id);
    if (!rec) {
      this.log.warn(
        `A key was stored in another window but its index entry did not arrive; run "Developer: Reload Window".`,
      );
      return;
    }
    // Always upsert: a rename elsewhere re-stores the same secret to carry the new label here.
    this.pool.upsert({ ...rec, secret });
  }

  /** The index entry may reach this window a moment after the secret: wait a bounded while. */
  private async findRecord(id: string): Promise<KeyRecord | undefined> {
    for (let i = 0; i < 10; i++) {
      const rec = this.index().find((r) => r.id === id);
      if (rec) return rec;
      await new Promise((r) => setTimeout(r, 200));
    }
    return undefined;
  }
}
