import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { request } from 'undici';
import { firstAttemptOfEachRequestLimited } from '../fakes/rateLimitRules';
import { FakeUpstream } from '../fakes/upstreamServer';
import { ALL_KEYS, ANTHROPIC_KEYS, OPENAI_KEYS } from '../proxy/harness';

// Issue 10's "Done when", for the real coding-assistant CLIs: with three keys and a provider that
// answers 429 (retry-after 5 s) to the first attempt of every request, every run of Claude Code,
// Codex, the Continue CLI and the Cline CLI through the headless KeyRelay (`dist/cli.js serve`)
// succeeds, and none of them receives a 429. The CLIs are installed at pinned versions into
// .vscode-test/clients by test/clients/setup.sh (the `clients` stage of `npm test` runs it first);
// CLIENTS_DIR overrides the place. Each CLI runs in its non-interactive mode, with HOME and its config
// dir in a temp dir (nothing touches the user's files), telemetry and updates off, bounded by a
// timeout and killed by process group.

const REPO = resolve(__dirname, '../../..');
const CLIENTS_DIR = process.env.CLIENTS_DIR ?? join(REPO, '.vscode-test/clients');
const CLI = join(REPO, 'dist/cli.js');
const TOKEN = 'kr-clients-token-0123456789abcdef';
const RUNS = 3;
/** A bound per run: a run that waits for a key (≤ 5 s per request) ends far sooner. */
const RUN_TIMEOUT_MS = 120_000;
/** What the fake upstream answers in words; every run must print it. */
const ANSWER = 'Hello from the fake upstream';

interface Proc {
  child: ChildProcess;
  out: string;
  exited: Promise<number>;
}

/**
 * Starts a process in its own process group (so the CLI's own children go with it), with exactly
 * `env`. Killed with its group after `timeoutMs`.
 */
function startProc(cmd: string, args: string[], env: Record<string, string>, cwd: string, timeoutMs: number): Proc {
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const p: Proc = { child, out: '', exited: Promise.resolve(0) };
  child.stdout!.on('data', (d) => (p.out += d));
  child.stderr!.on('data', (d) => (p.out += d));
  const timer = setTimeout(() => {
    p.out += `\n[test] killed after ${timeoutMs} ms`;
    killGroup(child);
  }, timeoutMs);
  p.exited = new Promise((r) =>
    child.on('close', (code, sig) => {
      clearTimeout(timer);
      r(code ?? (sig ? 128 : 1));
    }),
  );
  return p;
}

/** Kills the process group this test started (by its PID), if anything of it is left. */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone
  }
}

/** One client CLI: where its binary is, how to configure it once, how to run one prompt. */
interface Client {
  name: string;
  bin: string;
  /** Writes the CLI's config under `home` (may run the CLI's own setup command). */
  configure?(home: string, endpoint: string, env: Record<string, string>): Promise<void>;
  args(prompt: string, home: string): string[];
  env(home: string, endpoint: string): Record<string, string>;
}

const bin = (dir: string, name: string): string => join(CLIENTS_DIR, dir, 'node_modules/.bin', name);

const CLIENTS: Client[] = [
  {
    // `claude -p` prints the answer and exits. ANTHROPIC_AUTH_TOKEN is sent as a bearer token, which
    // KeyRelay takes as its access token; the nonessential-traffic flag turns off the updater,
    // telemetry and error reporting.
    name: 'Claude Code',
    bin: bin('claude-code', 'claude'),
    args: (prompt) => ['-p', prompt],
    env: (home, endpoint) => ({
      ANTHROPIC_BASE_URL: endpoint,
      ANTHROPIC_AUTH_TOKEN: TOKEN,
      CLAUDE_CONFIG_DIR: join(home, '.claude'),
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
    }),
  },
  {
    // `codex exec` with a custom provider on the Responses API; Codex's own retries off so a 429
    // would surface instead of being retried away.
    name: 'Codex',
    bin: bin('codex', 'codex'),
    async configure(home, endpoint) {
      mkdirSync(join(home, '.codex'), { recursive: true });
      writeFileSync(
        join(home, '.codex/config.toml'),
        [
          'model = "gpt-5"',
          'model_provider = "keyrelay"',
          'check_for_update_on_startup = false',
          '[model_providers.keyrelay]',
          'name = "KeyRelay"',
          `base_url = "${endpoint}/v1"`,
          'env_key = "KEYRELAY_TOKEN"',
          'wire_api = "responses"',
          'request_max_retries = 0',
          'stream_max_retries = 0',
          '[analytics]',
          'enabled = false',
          '',
        ].join('\n'),
      );
    },
    args: (prompt) => ['exec', '--skip-git-repo-check', '--sandbox', 'read-only', prompt],
    env: (home) => ({ CODEX_HOME: join(home, '.codex'), KEYRELAY_TOKEN: TOKEN }),
  },
  {
    // `cn -p` (print mode) with a config file naming an OpenAI-compatible model at KeyRelay.
    name: 'Continue',
    bin: bin('continue', 'cn'),
    async configure(home, endpoint) {
      writeFileSync(
        join(home, 'config.yaml'),
        [
          'name: KeyRelay test',
          'version: 1.0.0',
          'schema: v1',
          'models:',
          '  - name: gpt-4o via KeyRelay',
          '    provider: openai',
          '    model: gpt-4o',
          `    apiBase: ${endpoint}/v1`,
          `    apiKey: ${TOKEN}`,
          '    roles: [chat]',
          '',
        ].join('\n'),
      );
    },
    args: (prompt, home) => ['-p', '--config', join(home, 'config.yaml'), prompt],
    env: (home) => ({
      CONTINUE_GLOBAL_DIR: join(home, '.continue'),
      CONTINUE_CLI_ENABLE_TELEMETRY: '0',
      CONTINUE_METRICS_ENABLED: '0',
    }),
  },
  {
    // The Cline CLI runs a prompt to the end when given one (act mode, tools auto-approved, so its
    // tool calls run too). `cline auth` stores an OpenAI-compatible provider in an isolated data dir.
    name: 'Cline',
    bin: bin('cline', 'cline'),
    async configure(home, endpoint, env) {
      const p = startProc(
        this.bin,
        ['auth', '-p', 'openai', '-k', TOKEN, '-m', 'gpt-4o', '-b', `${endpoint}/v1`, '--data-dir', join(home, 'data')],
        env,
        home,
        60_000,
      );
      const code = await p.exited;
      killGroup(p.child);
      assert.equal(code, 0, `cline auth failed:\n${p.out}`);
    },
    args: (prompt, home) => ['--data-dir', join(home, 'data'), '-t', '90', prompt],
    env: () => ({}),
  },
];

interface Totals {
  requests: number;
  successes: number;
  failures: Record<string, number>;
}

suite('real coding-assistant CLIs through `keyrelay serve`: every first attempt answered 429', function () {
  this.timeout(RUNS * RUN_TIMEOUT_MS + 60_000);
  let fake: FakeUpstream;
  let limiter: ReturnType<typeof firstAttemptOfEachRequestLimited>;
  let serve: Proc | undefined;
  let endpoint: string;
  let dir: string;

  suiteSetup(async function () {
    this.timeout(30_000);
    const missing = CLIENTS.filter((c) => !existsSync(c.bin)).map((c) => c.bin);
    assert.deepEqual(missing, [], 'the client CLIs are not installed: run `bash test/clients/setup.sh`');
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-clients-'));
    fake = await FakeUpstream.start();
    limiter = firstAttemptOfEachRequestLimited(5);
    fake.setRequestRule(limiter.rule);
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        proxy: { port: 0 },
        // The presets' ids, pointed at the fake: routing by path and model runs as in production.
        providers: [
          { id: 'openai', name: 'OpenAI', shape: 'openai', baseUrl: fake.openaiBase, auth: 'bearer' },
          { id: 'anthropic', name: 'Anthropic', shape: 'anthropic', baseUrl: fake.anthropicBase, auth: 'x-api-key' },
        ],
        keys: [
          ...OPENAI_KEYS.map((key) => ({ provider: 'openai', key })),
          ...ANTHROPIC_KEYS.map((key) => ({ provider: 'anthropic', key })),
        ],
      }),
    );
    const env = { PATH: process.env.PATH ?? '', HOME: dir, KEYRELAY_TOKEN: TOKEN };
    serve = startProc(
      process.execPath,
      [CLI, 'serve', '--config', config, '--data-dir', join(dir, 'data'), '--log-level', 'trace'],
      env,
      dir,
      // The whole suite's bound: serve is stopped in suiteTeardown long before.
      CLIENTS.length * RUNS * RUN_TIMEOUT_MS + 120_000,
    );
    endpoint = await listening(serve, 15_000);
  });

  suiteTeardown(async () => {
    if (serve) {
      serve.child.kill('SIGTERM');
      const stopped = await Promise.race([serve.exited, new Promise((r) => setTimeout(r, 5_000, 'late'))]);
      if (stopped === 'late') killGroup(serve.child);
      await serve.exited;
    }
    await fake?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    // Checked after the cleanup, so a failure here leaves no process or temp dir behind.
    if (serve) {
      assert.doesNotMatch(serve.out, /status=429/, 'KeyRelay answered a client 429');
      for (const k of ALL_KEYS) assert.ok(!serve.out.includes(k), 'a whole key in the CLI output');
    }
  });

  async function totals(): Promise<Totals> {
    const r = await request(`${endpoint}/keyrelay/status`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.statusCode, 200);
    return ((await r.body.json()) as { totals: Totals }).totals;
  }

  for (const client of CLIENTS) {
    test(`${client.name}: ${RUNS} runs, each succeeds and never sees a 429`, async () => {
      const home = join(dir, client.name.replace(/\W/g, '').toLowerCase());
      const work = join(home, 'work');
      mkdirSync(work, { recursive: true });
      const env = {
        PATH: process.env.PATH ?? '',
        HOME: home,
        TMPDIR: mkdtempSync(join(home, 'tmp-')),
        XDG_CONFIG_HOME: join(home, '.config'),
        XDG_DATA_HOME: join(home, '.local/share'),
        XDG_CACHE_HOME: join(home, '.cache'),
        ...client.env(home, endpoint),
      };
      await client.configure?.(home, endpoint, env);
      const before = await totals();
      const [seen, limitedBefore] = [fake.requests.length, limiter.limited()];
      let succeeded = 0;
      const failures: string[] = [];
      for (let i = 1; i <= RUNS; i++) {
        const p = startProc(client.bin, client.args(`Say hello (run ${i})`, home), env, work, RUN_TIMEOUT_MS);
        const code = await p.exited;
        killGroup(p.child); // anything the CLI left running in its group
        const ok = code === 0 && p.out.includes(ANSWER) && !/\b429\b|rate.?limit/i.test(p.out);
        if (ok) succeeded++;
        else failures.push(`run ${i}: exit ${code}\n${p.out.slice(-3000)}`);
        for (const k of [...ALL_KEYS, TOKEN]) assert.ok(!p.out.includes(k), `${client.name} printed a whole key`);
      }
      const after = await totals();
      const posts = fake.requests.slice(seen).filter((r) => r.method === 'POST');
      const requests = after.requests - before.requests;
      const limited = limiter.limited() - limitedBefore;
      // For the report: what the runs were made of.
      console.log(
        `      ${client.name}: ${succeeded}/${RUNS} runs succeeded; ${requests} client requests ` +
          `(${posts.filter((r) => /"stream":\s*true/.test(r.body)).length} of ${posts.length} upstream attempts streamed, ` +
          `${posts.filter((r) => /"tools":\s*\[\s*\{/.test(r.body)).length} with tools), ${limited} answered 429 first`,
      );
      assert.deepEqual(failures, [], `${client.name}: failed runs`);
      assert.equal(succeeded, RUNS);
      // Every client request KeyRelay took ended in a success, and the provider did limit each one.
      assert.equal(after.successes - before.successes, requests, `${client.name}: a request failed at KeyRelay`);
      assert.deepEqual(after.failures, before.failures);
      assert.ok(limited >= RUNS, `the provider limited ${limited} requests: the rule did not fire`);
    });
  }
});

/** The endpoint `keyrelay serve` prints once it listens, bounded by `timeoutMs`. */
function listening(p: Proc, timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => done(new Error(`serve did not start within ${timeoutMs} ms:\n${p.out}`)), timeoutMs);
    const check = (): void => {
      const m = /KeyRelay listening on (http:\/\/\S+)/.exec(p.out);
      if (m) done(undefined, m[1]);
    };
    const exited = (): void => done(new Error(`serve exited:\n${p.out}`));
    function done(err?: Error, url?: string): void {
      clearTimeout(timer);
      p.child.stdout!.off('data', check);
      p.child.off('close', exited);
      if (err) reject(err);
      else resolvePromise(url!);
    }
    p.child.stdout!.on('data', check);
    p.child.on('close', exited);
    check();
  });
}
