import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { statusBody } from '../accounting/status';
import { statusTable } from '../accounting/statusTable';
import type { Stats } from '../accounting/stats';
import type { ProviderCatalogue } from '../config/providers';
import { ProxyError } from '../errors';
import type { KeyPool } from '../pool/keyPool';
import type { SecretRedactor } from '../redact';
import type { ProxyConfig } from '../types';
import type { AccessGuard } from './access';
import { runFanOut } from './fanOut';

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
  dispatcher(): Dispatcher;
}

/** One of KeyRelay's own endpoints under /keyrelay/. Returns a promise when it answers later. */
interface Route {
  method: 'GET' | 'POST';
  path: string | RegExp;
  /** Health is the one endpoint that answers without the token. */
  open?: boolean;
  handle(req: IncomingMessage, res: ServerResponse, match: RegExpExecArray | undefined): void | Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(typeof body === 'string' ? body : JSON.stringify(body));
};

/**
 * KeyRelay's own endpoints (DESIGN §1): health without auth; status, fan-out and key actions with
 * the access token. The server checks Host and Origin before any of these run.
 */
export class OwnEndpoints {
  private readonly routes: Route[];

  constructor(private readonly d: OwnEndpointDeps) {
    this.routes = [
      { method: 'GET', path: '/keyrelay/health', open: true, handle: (_q, res) => this.health(res) },
      { method: 'GET', path: '/keyrelay/status', handle: (req, res) => this.status(req, res) },
      { method: 'POST', path: '/keyrelay/run', handle: (req, res) => this.run(req, res) },
      {
        method: 'POST',
        path: /^\/keyrelay\/keys\/([^/]+)\/(discard|restore)$/,
        handle: (_q, res, m) => this.keyAction(res, m!),
      },
    ];
  }

  /** Answers `path`, or throws a ProxyError (401 without the token, 404 for an unknown endpoint). */
  handle(req: IncomingMessage, res: ServerResponse, path: string, guard: AccessGuard): void | Promise<void> {
    for (const r of this.routes) {
      const match = typeof r.path === 'string' ? (r.path === path ? undefined : null) : r.path.exec(path);
      if (match === null || req.method !== r.method) continue;
      if (!r.open && !guard.credential(req.headers).isToken) {
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
      `Unknown KeyRelay endpoint ${req.method} ${path}. Available: ${this.routes.map((r) => `${r.method} ${typeof r.path === 'string' ? r.path : '/keyrelay/keys/<id>/discard|restore'}`).join(', ')}.`,
    );
  }

  /** No auth: says only "this is KeyRelay" so another window can recognise the port's holder. */
  private health(res: ServerResponse): void {
    json(res, 200, { keyrelay: true, version: this.d.version, instanceId: this.d.instanceId, port: this.d.port() });
  }

  /** The status document; `?format=text`: the table `keyrelay status` prints, built here. */
  private status(req: IncomingMessage, res: ServerResponse): void {
    if (/[?&]format=text(&|$)/.test(req.url ?? '')) {
      const text = statusTable({ ...this.d, endpoint: this.d.endpoint() });
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(`${this.d.redactor.redact(text)}\n`);
      return;
    }
    const body = statusBody({ ...this.d, endpoint: this.d.endpoint() }, (text) => this.d.redactor.redact(text));
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  }

  private run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return runFanOut(req, res, {
      endpoint: this.d.endpoint() ?? '',
      token: this.d.token(),
      dispatcher: this.d.dispatcher(),
      catalogue: this.d.catalogue,
      pool: this.d.pool,
      maxBodyBytes: this.d.config().maxBodyBytes,
    });
  }

  /** Discard/Restore asked for by another window, which only follows this one (DESIGN §7). */
  private keyAction(res: ServerResponse, m: RegExpExecArray): void {
    const id = decodeURIComponent(m[1]);
    const pool = this.d.pool;
    if (!pool.get(id)) {
      throw new ProxyError(
        'not_found',
        404,
        `No key with id "${id}" in this KeyRelay. Reload the window so both see the same keys.`,
      );
    }
    if (m[2] === 'discard') pool.discard(id, 'discarded by the user (another window)');
    else pool.restore(id);
    json(res, 200, { id, state: pool.health(id)?.state });
  }
}
