import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CredentialBroker, CredentialFailure } from '../../../src/core/credentials/credentialBroker';
import { CredentialError, parseTokenOutput, runCredentialCommand } from '../../../src/core/credentials/commandRunner';
import { SecretRedactor } from '../../../src/core/redact';
import { systemClock } from '../../../src/core/types';
import { CapturingLogger } from '../../proxy/harness';

const LIMITS = { timeoutMs: 10_000, maxOutputBytes: 64 * 1024 };
const node = (code: string): string[] => [process.execPath, '-e', code];
const SECRET = 'tok-secret-0123456789abcdefXYZ';

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof CredentialError, String(err));
    return err.message;
  }
  assert.fail('expected the run to fail');
}

suite('credential command runner', () => {
  test('a plain token, trimmed, lives credentialTtlSeconds', async () => {
    const t = await runCredentialCommand({ argv: node(`console.log(' ${SECRET} ')`), ttlSeconds: 60 }, LIMITS, 1000);
    assert.deepEqual(t, { token: SECRET, expiresAt: 61_000 });
  });

  test('JSON with expiresIn or expiresAt; OAuth spelling too', () => {
    assert.deepEqual(parseTokenOutput(`{"token":"${SECRET}","expiresIn":2}`, 300, 1000), {
      token: SECRET,
      expiresAt: 3000,
    });
    const at = '2030-01-01T00:00:00.000Z';
    assert.equal(parseTokenOutput(`{"token":"a1","expiresAt":"${at}"}`, 300, 0).expiresAt, Date.parse(at));
    assert.deepEqual(parseTokenOutput('{"access_token":"a1","expires_in":10}', 300, 0), {
      token: 'a1',
      expiresAt: 10_000,
    });
    assert.equal(parseTokenOutput('{"token":"a1"}', 300, 0).expiresAt, 300_000);
  });

  test('bad output is refused without quoting it', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /printed nothing/],
      [`${SECRET} extra`, /more than one word/],
      [`{"token": "${SECRET}"`, /not valid JSON/],
      ['{"expiresIn": 5}', /without a "token"/],
      [`{"token":"${SECRET}","expiresIn":-1}`, /positive number/],
      [`{"token":"${SECRET}","expiresAt":"soon"}`, /ISO time/],
      [`{"token":"${SECRET}","expiresAt":"2001-01-01T00:00:00Z"}`, /already expired/],
    ];
    for (const [text, re] of cases) {
      assert.throws(
        () => parseTokenOutput(text, 300, Date.now()),
        (e: Error) => e instanceof CredentialError && re.test(e.message) && !e.message.includes(SECRET),
      );
    }
  });

  test('exit code, a missing program, a timeout and too much output are clear errors', async () => {
    const exit = await failure(
      runCredentialCommand({ argv: node(`console.error('${SECRET}'); process.exit(3)`) }, LIMITS, 0),
    );
    assert.match(exit, /exited with code 3/);
    assert.ok(!exit.includes(SECRET), 'stderr never reaches the message');
    assert.match(
      await failure(runCredentialCommand({ argv: ['keyrelay-no-such-program-xyz'] }, LIMITS, 0)),
      /could not be started \(ENOENT\)/,
    );
    const slow = runCredentialCommand({ argv: node('setTimeout(() => {}, 60000)') }, { ...LIMITS, timeoutMs: 300 }, 0);
    assert.match(await failure(slow), /did not finish within 0.3 s/);
    const big = runCredentialCommand(
      { argv: node(`process.stdout.write('x'.repeat(200000)); setTimeout(() => {}, 60000)`) },
      LIMITS,
      0,
    );
    assert.match(await failure(big), /printed more than 65536 bytes/);
  });
});

suite('credential broker', () => {
  let dir: string;
  let broker: CredentialBroker;
  let log: CapturingLogger;
  const redactor = new SecretRedactor();
  setup(() => {
    dir = mkdtempSync(join(tmpdir(), 'kr-broker-'));
    log = new CapturingLogger();
    broker = new CredentialBroker({ clock: systemClock, logger: log, redactor, timeoutMs: () => 10_000 });
  });
  teardown(() => {
    broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A command that counts its runs in a file and prints token N. */
  function counting(extra = ''): string[] {
    const f = JSON.stringify(join(dir, 'runs'));
    return node(
      `const fs=require('fs');let n=0;try{n=+fs.readFileSync(${f},'utf8')}catch{};n++;fs.writeFileSync(${f},String(n));${extra}console.log(JSON.stringify({token:'tok-run-'+n+'-abcdefghijkl',expiresIn:3600}))`,
    );
  }
  const runs = (): number => Number(readFileSync(join(dir, 'runs'), 'utf8'));

  test('concurrent callers share one run; the token is cached and redacted', async () => {
    const key = { id: 'k1', label: 'work', credentialCommand: { argv: counting() } };
    const tokens = await Promise.all(Array.from({ length: 8 }, () => broker.token(key)));
    assert.deepEqual(new Set(tokens), new Set(['tok-run-1-abcdefghijkl']));
    assert.equal(await broker.token(key), 'tok-run-1-abcdefghijkl');
    assert.equal(runs(), 1);
    assert.ok(!redactor.redact('x tok-run-1-abcdefghijkl y').includes('tok-run-1-abcdefghijkl'));
    assert.ok(broker.expiry('k1')! > Date.now());
  });

  test('refresh after a 401 runs again once, unless another request already did', async () => {
    const key = { id: 'k2', label: 'work', credentialCommand: { argv: counting() } };
    const first = await broker.token(key);
    const [a, b] = await Promise.all([broker.refresh(key, first), broker.refresh(key, first)]);
    assert.equal(a, 'tok-run-2-abcdefghijkl');
    assert.equal(b, a);
    assert.equal(await broker.refresh(key, first), a, 'a refusal of an old token does not run it again');
    assert.equal(runs(), 2);
  });

  test('failures count in a row, say what happened, and never what was printed', async () => {
    const key = {
      id: 'k3',
      label: 'work',
      credentialCommand: { argv: node(`console.log('${SECRET}');process.exit(1)`) },
    };
    for (let i = 1; i <= 2; i++) {
      await assert.rejects(broker.token(key), (e: Error) => {
        assert.ok(e instanceof CredentialFailure);
        assert.equal(e.consecutive, i);
        assert.match(e.message, /The credential command of key "work" exited with code 1/);
        return !e.message.includes(SECRET);
      });
    }
    assert.ok(log.lines.every((l) => !l.includes(SECRET)));
  });

  test('a changed command drops the old token; a key that left is forgotten', async () => {
    const key = { id: 'k4', label: 'work', credentialCommand: { argv: counting() } };
    await broker.token(key);
    const changed = { ...key, credentialCommand: { argv: counting('/*v2*/') } };
    assert.equal(await broker.token(changed), 'tok-run-2-abcdefghijkl');
    broker.retain(new Set());
    assert.equal(broker.expiry('k4'), undefined);
  });
});
