/**
 * Key leases (setting `allowKeyLease`, off by default): for a tool that cannot be pointed at a
 * proxy, `GET /keyrelay/lease?provider=&model=` hands out a healthy key's secret with a lease id,
 * and `POST /keyrelay/lease/<id>` reports how the tool's call went, through the same `pool.report`
 * a proxied attempt uses, so cooling, invalid keys and escalation happen exactly as for those.
 *
 * A lease holds the key like a request in flight until it is reported or expires: it counts
 * towards least-used (`pool.begin`), and when `maxConcurrentPerKey*` is set it takes one of the
 * key's slots, so leases and proxied requests share the same limit.
 */
import { randomBytes } from 'node:crypto';
import { ProxyError } from '../errors';
import type { Outcome, PoolKey } from '../types';
import { concurrencyLimits } from './concurrency';
import type { ConcurrencyLimits, Departure, GatedPick } from './concurrency';
import { noKeyError } from './forward';
import { authHeaderName } from './headers';
import type { ForwardDeps } from './requestContext';

/** How long a lease lasts when its tool never reports. */
export const LEASE_MS = 10 * 60_000;

/** What a tool may report. */
export const LEASE_OUTCOMES = ['ok', 'rate_limited', 'invalid', 'failed'] as const;
export type LeaseOutcome = (typeof LEASE_OUTCOMES)[number];

/** The longest `retryAfter` a report may carry (the pool caps cooldowns at maxCooldownMs anyway). */
const MAX_RETRY_AFTER_SEC = 7 * 86_400;

/** The answer to `GET /keyrelay/lease`: the secret itself, so it is never logged or redacted. */
export interface LeaseAnswer {
  lease: string;
  provider: string;
  model: string | null;
  keyId: string;
  label: string;
  masked: string;
  /** The key as the provider wants it: send it in this header (`authorization`: as `Bearer <key>`). */
  key: string;
  header: string;
  baseUrl: string;
  expiresAt: string;
  expiresInSeconds: number;
}

/** The answer to a report: the key's state after it (and until when it cools, for the lease's model). */
export interface LeaseReported {
  lease: string;
  keyId: string;
  outcome: LeaseOutcome;
  state?: string;
  coolingUntil?: string;
}

interface Lease {
  id: string;
  key: PoolKey;
  model: string | undefined;
  expiresAt: number;
  timer: NodeJS.Timeout;
  /** Gives back the concurrency slot the lease took, when a limit is set. */
  release?: () => void;
}

/**
 * The pool's pick, skipping keys over their budget as the forwarder does: `admit` marks such a
 * key over budget, so the pool's next pick passes it by, and answers "over budget" once every
 * key is marked. Each turn marks one more key, so this ends.
 */
async function pickWithinBudget(
  d: ForwardDeps,
  want: { providerId: string; model: string | undefined },
  limits: ConcurrencyLimits | undefined,
  now: number,
  client: Departure,
): Promise<GatedPick> {
  for (;;) {
    const pick = limits ? await d.gate.pick(want, limits, now + limits.waitMs, client) : d.pool.pick(want);
    if (pick.kind !== 'key' || d.budgets.admit(pick.key)) return pick;
    if (limits) d.gate.release(pick.key, want.model);
  }
}

/** The open leases of one proxy server. */
export class KeyLeases {
  private readonly open = new Map<string, Lease>();

  constructor(private readonly deps: () => ForwardDeps) {}

  /** Leases a healthy key of `provider` (for `model`), or throws the forwarder's "no key" answer. */
  async take(provider: string | null, model: string | null, client: Departure): Promise<LeaseAnswer | undefined> {
    const d = this.deps();
    checkOn(d);
    const spec = provider ? d.catalogue.get(provider) : undefined;
    if (!spec) {
      const known = d.pool.providerIds().join(', ') || 'none yet';
      throw new ProxyError(
        'unknown_provider',
        400,
        `${provider ? `Unknown provider "${provider}"` : 'No provider given'}. Send ?provider= with a provider id that has keys (${known}), and &model= for a model-scoped key.`,
      );
    }
    const want = { providerId: spec.id, model: model ?? undefined };
    const limits = concurrencyLimits(d.config());
    const now = d.clock.now();
    const pick = await pickWithinBudget(d, want, limits, now, client);
    if (pick.kind === 'gone') return undefined;
    if (pick.kind !== 'key') throw noKeyError(spec, want.model, pick);
    const key = pick.key;
    const release = limits ? () => d.gate.release(key, want.model) : undefined;
    let secret = key.secret;
    if (key.credentialCommand) {
      try {
        secret = await d.credentials.token({ id: key.id, label: key.label, credentialCommand: key.credentialCommand });
      } catch (err) {
        release?.();
        throw new ProxyError('credential_failed', 502, d.redactor.redact((err as Error).message));
      }
    }
    if (client.destroyed) {
      release?.(); // nobody is left to hand the key to
      return undefined;
    }
    const lease = this.openLease(d, key, want.model, release);
    d.logger.info(
      d.redactor.redact(
        `Key lease ${lease.id}: ${key.label} (${key.masked}) for ${spec.id}${model ? `/${model}` : ''}, until ${new Date(lease.expiresAt).toISOString()}`,
      ),
    );
    return {
      lease: lease.id,
      provider: spec.id,
      model,
      keyId: key.id,
      label: key.label,
      masked: key.masked,
      key: secret,
      header: authHeaderName(spec.auth),
      baseUrl: key.baseUrl ?? spec.baseUrl,
      expiresAt: new Date(lease.expiresAt).toISOString(),
      expiresInSeconds: Math.round(LEASE_MS / 1000),
    };
  }

  /** Feeds a tool's report into the key's health and closes the lease; throws 404/400 that name the fix. */
  report(id: string, body: unknown): LeaseReported {
    const d = this.deps();
    checkOn(d);
    const lease = this.open.get(id);
    if (!lease || lease.expiresAt <= d.clock.now()) {
      if (lease) this.close(lease, 'expired');
      throw new ProxyError(
        'not_found',
        404,
        `No open key lease "${id}": a lease lasts ${LEASE_MS / 60_000} minutes and ends with its first report. Take a new one with GET /keyrelay/lease?provider=<id>.`,
      );
    }
    const { outcome, retryAfterSec } = parseReport(body);
    d.pool.report(lease.key.id, lease.model, toOutcome(outcome, retryAfterSec));
    this.close(lease, `${outcome}${retryAfterSec === undefined ? '' : ` (retry after ${retryAfterSec} s)`}`);
    const h = d.pool.health(lease.key.id);
    // A report for a model cools the key for that model only, as a proxied 429 for it would.
    const until =
      (lease.model !== undefined ? h?.modelCooldowns[lease.model] : undefined) ??
      (h?.state === 'cooling' ? h.coolingUntil : undefined);
    return {
      lease: id,
      keyId: lease.key.id,
      outcome,
      state: h?.state,
      ...(until !== undefined ? { coolingUntil: new Date(until).toISOString() } : {}),
    };
  }

  /** Closes every lease (the server stops): their slots are given back, nothing is reported. */
  dispose(): void {
    for (const lease of [...this.open.values()]) this.close(lease, 'closed: KeyRelay stopped');
  }

  private openLease(d: ForwardDeps, key: PoolKey, model: string | undefined, release?: () => void): Lease {
    const id = randomBytes(16).toString('hex');
    const timer = setTimeout(() => this.close(lease, 'expired without a report'), LEASE_MS);
    timer.unref();
    const lease: Lease = { id, key, model, expiresAt: d.clock.now() + LEASE_MS, timer, release };
    this.open.set(id, lease);
    d.pool.begin(key.id);
    return lease;
  }

  private close(lease: Lease, how: string): void {
    if (!this.open.delete(lease.id)) return;
    clearTimeout(lease.timer);
    const d = this.deps();
    d.pool.end(lease.key.id);
    lease.release?.();
    d.logger.info(d.redactor.redact(`Key lease ${lease.id} of ${lease.key.label} (${lease.key.masked}): ${how}`));
  }
}

/** 403 naming the setting while leases are off. */
function checkOn(d: ForwardDeps): void {
  if (d.config().allowKeyLease) return;
  throw new ProxyError(
    'key_lease_off',
    403,
    'Key leases are off: a leased key\'s secret leaves KeyRelay. If a tool of yours cannot use the proxy, turn on keyRelay.allowKeyLease (see the README, "Key lease").',
  );
}

/** The report's outcome and retry-after, or a 400 that says what to send. */
function parseReport(body: unknown): { outcome: LeaseOutcome; retryAfterSec?: number } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const outcome = b.outcome as LeaseOutcome;
  if (!LEASE_OUTCOMES.includes(outcome)) {
    throw new ProxyError(
      'invalid_json',
      400,
      `Send {"outcome": "ok" | "rate_limited" | "invalid" | "failed"} (and "retryAfter": seconds for rate_limited); got ${typeof b.outcome === 'string' ? `"${b.outcome.slice(0, 40)}"` : 'no outcome'}.`,
    );
  }
  const r = b.retryAfter;
  if (r !== undefined && (typeof r !== 'number' || !Number.isFinite(r) || r < 0 || r > MAX_RETRY_AFTER_SEC)) {
    throw new ProxyError('invalid_json', 400, `"retryAfter" must be seconds from 0 to ${MAX_RETRY_AFTER_SEC}.`);
  }
  return { outcome, retryAfterSec: r };
}

/** A report as the pool's Outcome: what a proxied attempt with the same answer would have reported. */
function toOutcome(outcome: LeaseOutcome, retryAfterSec: number | undefined): Outcome {
  switch (outcome) {
    case 'ok':
      return { kind: 'success', ttfbMs: 0 };
    case 'rate_limited':
      return {
        kind: 'rate-limited',
        status: 429,
        retryAfterMs: retryAfterSec === undefined ? undefined : Math.round(retryAfterSec * 1000),
        reason: 'rate limited (reported by a key lease)',
      };
    case 'invalid':
      return { kind: 'invalid', status: 401, reason: 'refused as invalid (reported by a key lease)' };
    default:
      return { kind: 'server-error', reason: 'failed (reported by a key lease)' };
  }
}
