import * as assert from 'node:assert/strict';
import { needsRestart, normalizeConfig } from '../../../src/core/config/proxyConfig';
import { ProxyError } from '../../../src/core/errors';
import { DEFAULT_CONFIG } from '../../../src/core/types';

function invalid(input: unknown, ...mustMention: RegExp[]): void {
  assert.throws(
    () => normalizeConfig(input, 'keyrelay.json'),
    (e: unknown) => {
      assert.ok(e instanceof ProxyError, String(e));
      assert.equal(e.code, 'invalid_config');
      assert.equal(e.status, 400);
      assert.match(e.message, /^keyrelay\.json: /, 'the message says where the setting came from');
      for (const re of mustMention) assert.match(e.message, re);
      return true;
    },
    JSON.stringify(input),
  );
}

suite('normalizeConfig', () => {
  test('no input gives the defaults', () => {
    assert.deepEqual(normalizeConfig(undefined), { ...DEFAULT_CONFIG });
    assert.deepEqual(normalizeConfig(null), { ...DEFAULT_CONFIG });
    assert.deepEqual(normalizeConfig({}), { ...DEFAULT_CONFIG });
  });

  test('given fields override the defaults, the rest stay', () => {
    const c = normalizeConfig({
      port: 0,
      strategy: 'least-used',
      cooldownStepsMs: [1000, 5000],
      allowedOrigins: ['http://localhost:3000'],
      dailyResetHour: 4,
      passthrough: false,
    });
    assert.equal(c.port, 0);
    assert.equal(c.strategy, 'least-used');
    assert.deepEqual(c.cooldownStepsMs, [1000, 5000]);
    assert.deepEqual(c.allowedOrigins, ['http://localhost:3000']);
    assert.equal(c.dailyResetHour, 4);
    assert.equal(c.passthrough, false);
    assert.equal(c.host, '127.0.0.1');
    assert.equal(c.maxBodyBytes, 32 * 1024 * 1024);
  });

  test('undefined fields are skipped (a settings reader may pass them)', () => {
    assert.equal(normalizeConfig({ port: undefined, degradedAfter: 5 }).port, DEFAULT_CONFIG.port);
  });

  test('a changed result never writes through to the defaults', () => {
    const c = normalizeConfig({ port: 1 });
    c.cooldownStepsMs.push(1);
    c.allowedOrigins.push('http://x');
    assert.deepEqual(DEFAULT_CONFIG.cooldownStepsMs, [10_000, 30_000, 60_000, 120_000, 300_000]);
    assert.deepEqual(DEFAULT_CONFIG.allowedOrigins, []);
    const d = normalizeConfig(undefined);
    d.cooldownStepsMs.push(1);
    d.allowedOrigins.push('http://x');
    assert.deepEqual(DEFAULT_CONFIG.cooldownStepsMs, [10_000, 30_000, 60_000, 120_000, 300_000]);
    assert.deepEqual(DEFAULT_CONFIG.allowedOrigins, []);
  });

  test('an unknown setting is rejected by name, with the nearest known one or the list', () => {
    invalid({ prot: 8787 }, /unknown field "prot" \(did you mean "port"\?\)/);
    invalid({ zzzzzzzz: 1 }, /unknown field "zzzzzzzz"; known fields: host, port, strategy/);
  });

  test('ill-typed or out-of-range values are rejected naming the field and the rule', () => {
    invalid({ port: 70000 }, /"port"/, /from 0 to 65535 \(0 picks a free port\)/, /70000/);
    invalid({ port: '8787' }, /"port"/, /got a string of 4 characters/);
    invalid({ port: 80.5 }, /"port"/);
    invalid({ strategy: 'fastest' }, /"strategy"/, /round-robin/, /cache-affinity/);
    invalid({ cooldownStepsMs: [] }, /"cooldownStepsMs"/);
    invalid({ cooldownStepsMs: [1000, -1] }, /"cooldownStepsMs"/);
    invalid({ maxCooldownMs: 500 }, /"maxCooldownMs"/);
    invalid({ degradedAfter: 0 }, /"degradedAfter"/);
    invalid({ maxBodyBytes: 10 }, /"maxBodyBytes"/);
    invalid({ passthrough: 'yes' }, /"passthrough"/, /true or false/);
    invalid({ allowedOrigins: 'http://localhost:3000' }, /"allowedOrigins"/);
    invalid({ allowedOrigins: [3000] }, /"allowedOrigins"/);
    invalid({ dailyResetHour: 24 }, /"dailyResetHour"/);
    invalid({ host: '' }, /"host"/);
  });

  test('the bounds themselves are accepted', () => {
    const c = normalizeConfig({
      port: 65535,
      dailyResetHour: -1,
      maxWaitMs: 0,
      maxAttempts: 0,
      shutdownGraceMs: 60_000,
      maxBodyBytes: 1024,
    });
    assert.equal(c.port, 65535);
    assert.equal(c.dailyResetHour, -1);
    assert.equal(c.maxBodyBytes, 1024);
  });

  test('a non-object is rejected', () => {
    invalid([], /"proxy" must be an object/);
    invalid('port=8787', /"proxy" must be an object/);
    invalid(8787, /"proxy" must be an object/);
  });
});

suite('needsRestart', () => {
  const base = normalizeConfig(undefined);
  test('only port or host changes need a new listen', () => {
    assert.equal(needsRestart(base, { ...base, port: 9000 }), true);
    assert.equal(needsRestart(base, { ...base, host: '0.0.0.0' }), true);
    assert.equal(
      needsRestart(base, { ...base, strategy: 'random', maxBodyBytes: 2048, allowedOrigins: ['http://x'] }),
      false,
    );
    assert.equal(needsRestart(base, { ...base }), false);
  });
});
