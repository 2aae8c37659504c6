import * as assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start } from './cliProcess';
import type { Run } from './cliProcess';
import { assertNoKeys, OPENAI_KEYS } from './harness';

/** One bad input a newcomer gives `keyrelay`, and what the one line must say about it. */
interface Row {
  name: string;
  /** The command line; `dir` is this row's temp folder. */
  args: (dir: string) => string[];
  /** What to set up in `dir` first; may return a cleanup. */
  prepare?: (dir: string) => Promise<(() => Promise<void>) | void> | void;
  /** The problem and the fix, both in the line. */
  says: RegExp[];
  /** Run as another user (the read-only folder when the tests run as root, who may write anywhere). */
  asNobody?: boolean;
}

const isRoot = process.getuid?.() === 0;

const ROWS: Row[] = [
  { name: '--port -1', args: () => ['serve', '--port', '-1'], says: [/--port/, /from 0 to 65535/] },
  { name: '--port with no value', args: () => ['serve', '--port'], says: [/--port needs a value/, /--port 8787/] },
  { name: '--port ""', args: () => ['serve', '--port', ''], says: [/--port "" is not a port/, /decimal number/] },
  { name: '--port 0x1f90', args: () => ['serve', '--port', '0x1f90'], says: [/"0x1f90" is not a port/, /decimal/] },
  { name: '--port 65536', args: () => ['serve', '--port', '65536'], says: [/"65536" is not a port/, /0 to 65535/] },
  { name: '--port 8080.5', args: () => ['status', '--port', '8080.5'], says: [/is not a port/, /decimal/] },
  {
    name: '--host evil.example',
    args: () => ['serve', '--host', 'evil.example'],
    says: [/"evil\.example" is not an IP address/, /127\.0\.0\.1/],
  },
  {
    name: '--host an address of another machine',
    args: (d) => ['serve', '--host', '192.0.2.1', '--port', '0', '--data-dir', d],
    says: [/192\.0\.2\.1 is not an address of this machine/, /--host 127\.0\.0\.1/],
  },
  {
    name: 'the port is taken',
    args: (d) => ['serve', '--port', readFileSync(join(d, 'port'), 'utf8'), '--data-dir', join(d, 'data')],
    prepare: async (d) => {
      const taken: Server = createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
      writeFileSync(join(d, 'port'), String((taken.address() as { port: number }).port));
      return () => new Promise<void>((r) => taken.close(() => r()));
    },
    says: [/already in use/, /--port/],
  },
  {
    name: '--data-dir is a file',
    args: (d) => ['serve', '--port', '0', '--data-dir', join(d, 'file')],
    prepare: (d) => writeFileSync(join(d, 'file'), ''),
    says: [/data folder .*file is a file, not a folder/, /--data-dir/],
  },
  {
    name: '--data-dir cannot be created',
    args: (d) => ['serve', '--port', '0', '--data-dir', join(d, 'file', 'sub')],
    prepare: (d) => writeFileSync(join(d, 'file'), ''),
    says: [/Cannot create the data folder .*sub \(ENOTDIR\)/, /--data-dir/],
  },
  {
    name: '--data-dir read-only',
    args: (d) => ['serve', '--port', '0', '--data-dir', join(d, 'ro')],
    prepare: (d) => {
      mkdirSync(join(d, 'ro'));
      chmodSync(join(d, 'ro'), 0o555);
      chmodSync(d, 0o755);
    },
    asNobody: isRoot,
    says: [/data folder .*ro is not writable \(EACCES\)/, /chmod u\+w|--data-dir/],
  },
  {
    name: 'state.json is a folder',
    args: (d) => ['serve', '--port', '0', '--data-dir', d],
    prepare: (d) => mkdirSync(join(d, 'state.json')),
    says: [/state\.json is not a file/, /remove it/],
  },
  {
    name: 'token is a folder',
    args: (d) => ['serve', '--port', '0', '--data-dir', d],
    prepare: (d) => mkdirSync(join(d, 'token')),
    says: [/token is not a file/, /remove it/],
  },
  { name: 'an unknown command', args: () => ['srv'], says: [/Unknown command "srv"/, /keyrelay serve/] },
  { name: 'an unknown option', args: () => ['serve', '--prot', '1'], says: [/Unknown option --prot/, /--help/] },
  { name: '--log-level bogus', args: () => ['serve', '--log-level', 'loud'], says: [/--log-level must be one of/] },
  { name: '--strategy bogus', args: () => ['serve', '--strategy', 'best'], says: [/--strategy must be one of/] },
  {
    name: 'token before any start',
    args: (d) => ['token', '--data-dir', join(d, 'none')],
    says: [/No access token yet/, /keyrelay serve --data-dir/],
  },
  {
    name: 'a short token in KEYRELAY_TOKEN',
    args: (d) => ['serve', '--port', '0', '--data-dir', d],
    says: [/shorter than 16 characters/, /openssl rand/],
  },
];

/**
 * Every bad input the CLI meets (issue 11's table), through the built `dist/cli.js`: exit 2, one
 * line on stderr that names the problem and the fix, no stack trace, no key or token text.
 */
suite('the CLI on bad input: one line, exit 2', () => {
  let dir: string;
  let run: Run | undefined;
  let cleanup: (() => Promise<void>) | void;

  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'keyrelay-cli-bad-'));
  });
  teardown(async () => {
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
    run = undefined;
    await cleanup?.();
    cleanup = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  for (const row of ROWS) {
    test(row.name, async () => {
      cleanup = await row.prepare?.(dir);
      // A key in the environment: whatever goes wrong, its text must not reach the terminal.
      const env = {
        HOME: dir,
        OPENAI_API_KEY: OPENAI_KEYS[0],
        ...(row.name.includes('KEYRELAY_TOKEN') ? { KEYRELAY_TOKEN: 'short-secret' } : {}),
      };
      if (row.asNobody) {
        // Node hands a coverage run's NODE_V8_COVERAGE to children: nobody needs a folder it may write.
        mkdirSync(join(dir, 'cov'), { mode: 0o777 });
        chmodSync(join(dir, 'cov'), 0o777);
        Object.assign(env, { NODE_V8_COVERAGE: join(dir, 'cov') });
      }
      run = start(row.args(dir), env, row.asNobody ? { uid: 65534, gid: 65534 } : {});
      const code = await run.exited;
      const lines = run.stderr.split('\n').filter((l) => l !== '');
      assert.equal(code, 2, `exit code for ${row.name}: ${run.stderr}`);
      assert.equal(lines.length, 1, `one line on stderr:\n${run.stderr}`);
      assert.match(lines[0], /^keyrelay: /);
      for (const says of row.says) assert.match(lines[0], says);
      assert.ok(!/^\s+at /m.test(run.stderr + run.stdout), `a stack trace:\n${run.stderr}`);
      assert.equal(run.stdout, '', 'nothing on stdout: the proxy did not start');
      assertNoKeys(run.stderr, row.name);
      assert.ok(!run.stderr.includes('short-secret'), 'the token text');
    });
  }

  test('plain "keyrelay" prints the usage, not an error', async () => {
    run = start([]);
    assert.equal(await run.exited, 0);
    assert.match(run.stdout, /^Usage:\n {2}keyrelay serve/m);
    assert.equal(run.stderr, '');
  });

  test('the banner names the command that prints the token, and that command prints it', async () => {
    run = start(['serve', '--port', '0', '--data-dir', dir], { HOME: dir });
    await untilOutput(run, 'stdout', /SDKs /);
    const command = /print it with: node (\S+) token --data-dir (\S+)/.exec(run.stdout);
    assert.ok(command, run.stdout);
    assert.equal(command[2], dir);
    assert.match(run.stdout, /Codex .*env_key = "KEYRELAY_TOKEN"/);
    assert.match(run.stdout, /Aider .*--openai-api-key "\$\(node \S+ token --data-dir /);
    const printed = start(['token', '--data-dir', dir], { HOME: dir });
    assert.equal(await printed.exited, 0);
    assert.equal(printed.stdout, readFileSync(join(dir, 'token'), 'utf8'));
    assert.doesNotMatch(run.stdout, new RegExp(printed.stdout.trim()), 'the banner itself never shows the token');
  });

  test('a state.json of the wrong shape is kept as .corrupt with a warning, not overwritten', async () => {
    const state = join(dir, 'state.json');
    writeFileSync(state, JSON.stringify([{ mine: 'precious' }]), { mode: 0o600 });
    run = start(['serve', '--port', '0', '--data-dir', dir], { HOME: dir });
    await untilOutput(run, 'stderr', /KeyRelay listening on/);
    assert.match(run.stderr, /state\.json is not KeyRelay state \(the file holds a list, not an object\)/);
    assert.equal(readFileSync(`${state}.corrupt`, 'utf8'), '[{"mine":"precious"}]');
    assert.ok(readdirSync(dir).includes('token'));
  });
});

/** Resolves once the process's `stream` output matches; bounded, and fails if it exits first. */
function untilOutput(run: Run, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(new Error(`no ${pattern} within ${timeoutMs} ms:\n${run.stdout}${run.stderr}`)),
      timeoutMs,
    );
    const check = (): void => {
      if (pattern.test(run[stream])) finish();
    };
    const exited = (): void => finish(new Error(`exited before ${pattern}:\n${run.stdout}${run.stderr}`));
    function finish(err?: Error): void {
      clearTimeout(timer);
      run.child[stream]!.off('data', check);
      run.child.off('exit', exited);
      if (err) reject(err);
      else resolve();
    }
    // Registered after start()'s own listener, so run[stream] already holds the chunk.
    run.child[stream]!.on('data', check);
    run.child.on('exit', exited);
    check();
  });
}
