import type { ProviderCatalogue } from '../config/providers';
import { DisposableBase, Emitter, toDisposable } from '../events';
import type { Event } from '../events';
import type { KeyPool } from '../pool/keyPool';
import type { ApiShape, Clock, Logger, ProviderSpec } from '../types';
import { modelLimits, modelMatcher } from './modelLimits';
import type { ModelLimits } from './modelLimits';

/** One model the editor may pick: a model of a provider that has keys. */
export interface ChatModel {
  /** `providerId/model`: unique within the vendor, and what the proxy's router reads. */
  id: string;
  providerId: string;
  providerName: string;
  shape: ApiShape;
  /** The id the provider knows. */
  model: string;
  limits: ModelLimits;
}

export interface ChatModelCatalogDeps {
  pool: KeyPool;
  catalogue: ProviderCatalogue;
  /** The provider's model ids from its `/models`, through the pool; rejects when they cannot be had. */
  fetchModels(provider: ProviderSpec): Promise<string[]>;
  /** `keyRelay.chatModels`: which `providerId/model` ids to show. */
  patterns(): readonly string[];
  logger: Logger;
  clock: Clock;
}

/** A provider's `/models` is asked again after this long, and after a failure after the shorter time. */
const FETCHED_TTL_MS = 3_600_000;
const FAILED_TTL_MS = 300_000;
/** Pool changes come in bursts (an import of many keys): they are folded into one update. */
const SETTLE_MS = 50;

interface Fetched {
  models?: string[];
  at: number;
  /** The provider's keys when this was fetched: other keys may see other models. */
  keys: string;
}

/** Per provider with keys: the models its keys name, and whether some key serves any model. */
interface KeyFacts {
  listed: Set<string>;
  servesAll: boolean;
  keys: string;
}

/**
 * The models KeyRelay offers the editor, per provider with keys: the models its keys list, the
 * models a custom provider declares, and its `/models` answer filtered by `keyRelay.chatModels`
 * (fetched through the pool, cached, read again when the provider's keys change). Fires
 * `onDidChange` only when the list itself changes.
 */
export class ChatModelCatalog extends DisposableBase {
  private readonly _onDidChange = this._register(new Emitter<void>());
  readonly onDidChange: Event<void> = this._onDidChange.event;
  private readonly fetched = new Map<string, Fetched>();
  private readonly fetching = new Map<string, Promise<void>>();
  private current: ChatModel[] = [];
  private signature = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: ChatModelCatalogDeps) {
    super();
    this._register(deps.pool.onDidChange(() => this.schedule()));
    this._register(toDisposable(() => clearTimeout(this.timer)));
    this.update();
  }

  /** The models as known now. */
  list(): readonly ChatModel[] {
    return this.current;
  }

  /** The list once every provider's `/models` is fresh, or after `timeoutMs` with what is known. */
  async resolve(timeoutMs = 5_000): Promise<readonly ChatModel[]> {
    this.update();
    const pending = [...this.fetching.values()];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
      await Promise.race([Promise.all(pending), bound]);
      clearTimeout(timer);
    }
    return this.current;
  }

  /** The patterns or the providers changed: recompute now. */
  refresh(): void {
    this.update();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.update(), SETTLE_MS);
    this.timer.unref?.();
  }

  /** Recomputes the list, starts the fetches it lacks, and fires when the list changed. */
  private update(): void {
    const facts = this.keyFacts();
    const now = this.deps.clock.now();
    for (const [providerId, f] of facts) {
      const provider = this.deps.catalogue.get(providerId);
      if (provider && f.servesAll && this.isStale(providerId, f, now)) this.fetch(provider, f.keys);
    }
    const show = modelMatcher(this.deps.patterns());
    const next: ChatModel[] = [];
    for (const [providerId, f] of facts) {
      const provider = this.deps.catalogue.get(providerId);
      if (!provider) continue;
      for (const model of this.modelsOf(provider, f, show)) {
        next.push({
          id: `${providerId}/${model}`,
          providerId,
          providerName: provider.name,
          shape: provider.shape,
          model,
          limits: modelLimits(model),
        });
      }
    }
    const signature = next.map((m) => m.id).join('\n');
    this.current = next;
    if (signature === this.signature) return;
    this.signature = signature;
    this._onDidChange.fire();
  }

  /**
   * A provider's models: those its keys name and a custom provider's own list always (the user
   * wrote them); its `/models` answer filtered by the patterns; while that cannot be had, the
   * patterns' exact ids for it.
   */
  private modelsOf(provider: ProviderSpec, f: KeyFacts, show: (id: string) => boolean): string[] {
    const out = new Set<string>([...f.listed, ...(provider.models ?? [])]);
    if (f.servesAll) {
      const fetched = this.fetched.get(provider.id)?.models;
      const prefix = `${provider.id}/`;
      const candidates =
        fetched ??
        this.deps
          .patterns()
          .filter((p) => p.startsWith(prefix) && !p.includes('*'))
          .map((p) => p.slice(prefix.length));
      for (const m of [...candidates].sort()) if (show(`${prefix}${m}`)) out.add(m);
    }
    return [...out];
  }

  private keyFacts(): Map<string, KeyFacts> {
    const out = new Map<string, KeyFacts>();
    for (const k of this.deps.pool.list()) {
      let f = out.get(k.providerId);
      if (!f) out.set(k.providerId, (f = { listed: new Set(), servesAll: false, keys: '' }));
      f.keys += `${k.id},`;
      const models = k.models ?? [];
      if (models.length === 0 || models.includes('others')) f.servesAll = true;
      for (const m of models) if (m !== 'others') f.listed.add(m);
    }
    return out;
  }

  private isStale(providerId: string, f: KeyFacts, now: number): boolean {
    if (this.fetching.has(providerId)) return false;
    const got = this.fetched.get(providerId);
    if (!got || got.keys !== f.keys) return true;
    return now - got.at > (got.models ? FETCHED_TTL_MS : FAILED_TTL_MS);
  }

  private fetch(provider: ProviderSpec, keys: string): void {
    const at = this.deps.clock.now();
    const job = this.deps
      .fetchModels(provider)
      .then((models) => {
        this.fetched.set(provider.id, { models, at, keys });
      })
      .catch((err: unknown) => {
        this.fetched.set(provider.id, { at, keys });
        this.deps.logger.debug(`Chat models: could not list ${provider.name}'s models (${(err as Error).message}).`);
      })
      .finally(() => {
        this.fetching.delete(provider.id);
        this.update();
      });
    this.fetching.set(provider.id, job);
  }
}
