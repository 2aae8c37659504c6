import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildDashboard, parseQuery } from '../accounting/dashboard';
import { METRICS_CONTENT_TYPE, metricsText } from '../accounting/metrics';
import { writeStatus } from '../accounting/status';
import { writeStatusTable } from '../accounting/statusTable';
import type { Stats } from '../accounting/stats';
import type { ProviderCatalogue } from '../config/providers';
import { ProxyError } from '../errors';
import type { KeyPool } from '../pool/keyPool';
import type { SecretRedactor } from '../redact';
import type { KeyRecord, ProxyConfig, SharedStoreStatus } from '../types';
import { readBody } from './body';
import type { AccessGuard } from './access';
import type { ForwardDeps } from './requestContext';
import { runFanOut } from './fanOut';
import { KeyLeases } from './keyLease';
import { testAndRecord } from './keyTest';
import { NonceBook } from './nonceBook';
import { buildSync } from '../accounting/syncFeed';
import { clientProof, leaderProof, NONCE_PATTERN, PROOF_SCHEME, proofsEqual } from '../proof';

/** What KeyRelay's own endpoints read; the server passes itself through these getters. */
export interface OwnEndpointDeps {
  pool: KeyPool;
  stats: Stats;
  catalogue: ProviderCatalogue;
  redactor: SecretRedactor;
  version: string;
  instanceId: string;
  endpoint(): string | undefined;
  port(): number | undefined;
  token(): string;
  config(): ProxyConfig;
  /** The forwarder's parts: the fan-out sends each model's call through them. */
  forward(): ForwardDeps;
  /** Adds, removes and changes keys over HTTP (the headless CLI); absent in VS Code. */
  keyManager?: KeyManager;
  /** The shared state store's status, when one is configured. */
  shared(): SharedStoreStatus | undefined;
}

/**
 * What `POST|DELETE|PATCH /keyrelay/keys` call: the owner checks the entries, changes the pool
 * at once and saves where the keys live. Throws a ProxyError that names the fix.
 */
export interface KeyManager {
  add(entries: unknown): KeyRecord[];
  remove(id: string): KeyRecord;
  update(id: string, patch: unknown): KeyRecord;
}

/** One of KeyRelay's own endpoints under /keyrelay/. Returns a promise when it answers later. */
interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  path: string | RegExp;
  /** How a pattern path is shown in the list of endpoints. */
  shown?: string;
  /** Health is the one endpoint that answers without the token. */
  open?: boolean;
  /** Answers without the token when this says so (metrics for a local scraper, by setting). */
  openIf?(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse, match: RegExpExecArray | undefined): void | Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(typeof body === 'string' ? body : JSON.stringify(body));
};

/** Resolves true once `res` has room again, false once it closed (its reader went away). */
function caughtUp(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const settle = (room: boolean): void => {
      res.removeListener('drain', drained);
      res.removeListener('close', closed);
      resolve(room);
    };
    const drained = (): void => settle(true);
    const closed = (): void => settle(false);
    res.on('drain', drained);
    res.on('close', closed);
  });
}

/**
 * KeyRelay's own endpoints (DESIGN §1): health without auth; status, fan-out and key actions with
 * the access token. The server checks Host and Origin before any of these run.
 */
export class OwnEndpoints {
  private readonly routes: Route[];
  private readonly nonces = new NonceBook(Date.now);
  private readonly leases: KeyLeases;

  constructor(private readonly d: OwnEndpointDeps) {
    this.leases = new KeyLeases(() => d.forward());
    this.routes = [
      { method: 'GET', path: '/keyrelay/health', open: true, handle: (_q, res) => this.health(res) },
      { method: 'GET', path: '/keyrelay/challenge', open: true, handle: (req, res) => this.challenge(req, res) },
      { method: 'GET', path: '/keyrelay/sync', handle: (req, res) => this.sync(req, res) },
      { method: 'GET', path: '/keyrelay/status', handle: (req, res) => this.status(req, res) },
      { method: 'GET', path: '/keyrelay/series', handle: (req, res) => this.series(req, res) },
      {
        method: 'GET',
        path: '/keyrelay/metrics',
        openIf: (req) => this.d.config().metricsWithoutToken && isLoopback(req.socket.remoteAddress),
        handle: (_q, res) => this.metrics(res),
      },
      { method: 'POST', path: '/keyrelay/run', handle: (req, res) => this.run(req, res) },
      {
        method: 'POST',
        path: /^\/keyrelay\/keys\/([^/]+)\/(discard|restore|test)$/,
        shown: '/keyrelay/keys/<id>/discard|restore|test',
        handle: (_q, res, m) => this.keyAction(res, m!),
      },
      { method: 'POST', path: '/keyrelay/stats/reset', handle: (_q, res) => this.resetStats(res) },
      { method: 'POST', path: '/keyrelay/keys', handle: (req, res) => this.manage(req, res, 'add') },
      {
        method: 'DELETE',
        path: /^\/keyrelay\/keys\/([^/]+)$/,
        shown: '/keyrelay/keys/<id>',
        handle: (q, res, m) => this.manage(q, res, 'remove', m),
      },
      {
        method: 'PATCH',
        path: /^\/keyrelay\/keys\/([^/]+)$/,
        shown: '/keyrelay/keys/<id>',
        handle: (q, res, m) => this.manage(q, res, 'update', m),
      },
      { method: 'GET', path: '/keyrelay/lease', handle: (req, res) => this.lease(req, res) },
      {
        method: 'POST',
        path: /^\/keyrelay\/lease\/([^/]+)$/,
        shown: '/keyrelay/lease/<id>',
        handle: (req, res, m) => this.leaseReport(req, res, m!),
      },
    ];
  }

  /** Answers `path`, or throws a ProxyError (401 without the token, 404 for an unknown endpoint). */
  handle(req: IncomingMessage, res: ServerResponse, path: string, guard: AccessGuard): void | Promise<void> {
    for (const r of this.routes) {
      const match = typeof r.path === 'string' ? (r.path === path ? undefined : null) : r.path.exec(path);
      if (match === null || req.method !== r.method) continue;
      if (!r.open && !r.openIf?.(req) && !this.authorized(req, guard)) {
        throw new ProxyError(
          'unauthorized',
          401,
          'KeyRelay\'s own endpoints need the access token. Copy it with "KeyRelay: Copy Access Token" (CLI: "keyrelay token").',
        );
      }
      return r.handle(req, res, match);
    }
    throw new ProxyError(
      'not_found',
      404,
      `Unknown KeyRelay endpoint ${req.method} ${path}. Available: ${this.routes.map((r) => `${r.method} ${typeof r.path === 'string' ? r.path : r.shown}`).join(', ')}.`,
    );
  }

  /**
   * The token itself, or a proof of it (`Authorization: KeyRelay-HMAC <nonce>:<proof>` over a
   * nonce this server issued with a challenge answer): windows and `keyrelay status` use the proof,
   * so the token never goes to a program that merely answers on the port.
   */
  private authorized(req: IncomingMessage, guard: AccessGuard): boolean {
    const auth = req.headers.authorization;
    if (auth?.startsWith(`${PROOF_SCHEME} `)) {
      const [nonce, proof] = auth.slice(PROOF_SCHEME.length + 1).split(':');
      return !!nonce && !!proof && this.nonces.consume(nonce) && proofsEqual(proof, clientProof(this.d.token(), nonce));
    }
    return guard.credential(req.headers).isToken;
  }

  /**
   * No auth: proves this server knows the token (an HMAC of the caller's nonce) and issues a
   * one-time nonce for the caller's own proof. Neither reveals the token.
   */
  private challenge(req: IncomingMessage, res: ServerResponse): void {
    const nonce = new URL(req.url ?? '', 'http://x').searchParams.get('nonce') ?? '';
    if (!NONCE_PATTERN.test(nonce)) {
      throw new ProxyError('invalid_json', 400, 'Send ?nonce= with 32 to 128 lower-case hex characters.');
    }
    json(res, 200, {
      keyrelay: true,
      instanceId: this.d.instanceId,
      proof: leaderProof(this.d.token(), nonce),
      nonce: this.nonces.issue(),
    });
  }

  /** What changed since the caller's cursor (`?pool=&stats=`): a following window's poll. */
  private sync(req: IncomingMessage, res: ServerResponse): void {
    const q = new URL(req.url ?? '', 'http://x').searchParams;
    const at = (name: string): number => {
      const n = Number(q.get(name) ?? 0);
      return Number.isSafeInteger(n) && n >= 0 ? n : 0;
    };
    const doc = buildSync(this.d.pool, this.d.stats, { pool: at('pool'), stats: at('stats') }, Date.now());
    json(res, 200, this.d.redactor.redact(JSON.stringify({ instanceId: this.d.instanceId, ...doc })));
  }

  /** No auth: says only "this is KeyRelay" so another window can recognise the port's holder. */
  private health(res: ServerResponse): void {
    json(res, 200, { keyrelay: true, version: this.d.version, instanceId: this.d.instanceId, port: this.d.port() });
  }

  /** The status document; `?format=text`: the table `keyrelay status` prints, built here. */
  private async status(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const text = /[?&]format=text(&|$)/.test(req.url ?? '');
    const doc = { ...this.d, endpoint: this.d.endpoint(), shared: this.d.shared(), budgets: this.d.forward().budgets };
    res.writeHead(200, { 'content-type': text ? 'text/plain; charset=utf-8' : 'application/json' });
    const socket = res.socket;
    const redact = (part: string): string => this.d.redactor.redact(part);
    const send = (part: string): boolean => {
      const room = res.write(part, text ? 'utf8' : 'latin1');
      // A write corks the socket until the next tick: uncorked, each part leaves as it is made and
      // the reader (the CLI, on the other CPU) works through it while the rest is built.
      socket?.uncork();
      return room;
    };
    if (text) writeStatusTable(doc, redact, send);
    else await writeStatus(doc, redact, (part) => send(part) || caughtUp(res));
    if (!res.destroyed) res.end();
  }

  /** The dashboard's document (charts and one page of keys): what a following window's dashboard shows. */
  private series(req: IncomingMessage, res: ServerResponse): void {
    const q = new URL(req.url ?? '', 'http://x').searchParams;
    const doc = buildDashboard(
      this.d,
      parseQuery((n) => q.get(n)),
    );
    json(res, 200, this.d.redactor.redact(JSON.stringify(doc)));
  }

  /** Prometheus text format; key labels are masked, and the text is redacted once more on the way out. */
  private metrics(res: ServerResponse): void {
    const text = this.d.redactor.redact(metricsText(this.d.pool, this.d.stats));
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(text);
  }

  private run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return runFanOut(req, res, { deps: this.d.forward(), maxBodyBytes: this.d.config().maxBodyBytes });
  }

  /** `POST /keyrelay/keys` (one entry or a list), `DELETE` and `PATCH /keyrelay/keys/<id>`. */
  private async manage(
    req: IncomingMessage,
    res: ServerResponse,
    op: 'add' | 'remove' | 'update',
    m?: RegExpExecArray,
  ): Promise<void> {
    const km = this.d.keyManager;
    if (!km) {
      throw new ProxyError(
        'not_found',
        404,
        'Keys are managed over HTTP only by the headless CLI ("keyrelay serve --keys-file FILE"). In VS Code use "KeyRelay: Add Key".',
      );
    }
    const id = m ? decodeURIComponent(m[1]) : '';
    if (op === 'remove') return json(res, 200, { removed: km.remove(id) });
    const body = await this.readJson(req, '{"provider": "openai", "key": "sk-…"}');
    if (op === 'add') json(res, 201, { added: km.add(body) });
    else json(res, 200, { updated: km.update(id, body) });
  }

  /** A JSON request body (at most 1 MiB), or a 400 showing `example`. */
  private async readJson(req: IncomingMessage, example: string): Promise<unknown> {
    const raw = await readBody(req, 1024 * 1024, this.d.config().bodyTimeoutMs);
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch {
      throw new ProxyError('invalid_json', 400, `Send a JSON body, e.g. ${example}.`);
    }
  }

  /** `GET /keyrelay/lease?provider=&model=`: a key's secret for a tool that cannot use the proxy (keyLease.ts). */
  private async lease(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const q = new URL(req.url ?? '', 'http://x').searchParams;
    const answer = await this.leases.take(q.get('provider'), q.get('model'), res);
    if (answer)
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(JSON.stringify(answer));
  }

  /** `POST /keyrelay/lease/<id>` `{"outcome", "retryAfter"}`: how the leased key fared. */
  private async leaseReport(req: IncomingMessage, res: ServerResponse, m: RegExpExecArray): Promise<void> {
    const body = await this.readJson(req, '{"outcome": "rate_limited", "retryAfter": 30}');
    json(res, 200, this.leases.report(decodeURIComponent(m[1]), body));
  }

  /** Closes the open key leases (the server stops). */
  dispose(): void {
    this.leases.dispose();
  }

  /**
   * Discard, Restore or Test asked for by another window, which only follows this one: the
   * serving pool is the one whose state matters, and every window mirrors it (DESIGN §7).
   */
  private async keyAction(res: ServerResponse, m: RegExpExecArray): Promise<void> {
    const id = decodeURIComponent(m[1]);
    const { pool, catalogue } = this.d;
    const key = pool.get(id);
    if (!key) {
      throw new ProxyError(
        'not_found',
        404,
        `No key with id "${id}" in this KeyRelay. Reload the window so both see the same keys.`,
      );
    }
    let found: { ok: boolean; message: string } | undefined;
    if (m[2] === 'discard') pool.discard(id, 'discarded by the user (another window)');
    else if (m[2] === 'restore') pool.restore(id);
    else {
      const provider = catalogue.get(key.providerId);
      if (!provider)
        throw new ProxyError('not_found', 404, `Provider "${key.providerId}" of key ${key.label} is not configured.`);
      const r = await testAndRecord(pool, key, provider, {
        timeoutMs: 15_000,
        dispatcher: this.d.forward().upstream.dispatcher,
      });
      found = { ok: r.ok, message: this.d.redactor.redact(r.message) };
    }
    json(res, 200, { id, state: pool.health(id)?.state, ...found });
  }

  /** Reset Statistics from any window: the serving window's counters are the ones every window shows. */
  private resetStats(res: ServerResponse): void {
    this.d.stats.reset();
    this.d.pool.resetDaily();
    json(res, 200, { reset: true });
  }
}

/** Whether a peer address is this machine's loopback (127.0.0.0/8, ::1, or 127.x mapped into IPv6). */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}
