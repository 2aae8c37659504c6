import * as assert from 'node:assert/strict';
import { buildDashboard, DEFAULT_QUERY } from '../../../src/core/accounting/dashboard';
import { Stats } from '../../../src/core/accounting/stats';
import { ProviderCatalogue } from '../../../src/core/config/providers';
import { KeyPool } from '../../../src/core/pool/keyPool';
import { renderWatch, sparkline } from '../../../src/cli/watch';
import { FakeClock } from '../fakes/fakeClock';

suite('cli: status --watch frames', () => {
  test('sparklines: zero is a space, the peak a full bar, squeezed values add up', () => {
    assert.equal(sparkline([0, 1, 2, 4, 8]), ' ▁▂▄█');
    assert.equal(sparkline([0, 0, 0]), '   ');
    assert.equal(sparkline([1, 1, 0, 0, 2, 2], 3), '▄ █');
    assert.equal(sparkline([5, 1, 1, 1, 1], 2), '█▄');
  });

  test('a frame: summary, providers with their last hour, the busiest keys that fit, cut to the width', () => {
    const clock = new FakeClock();
    const pool = new KeyPool({
      clock,
      strategy: 'round-robin',
      cooldownStepsMs: [10_000],
      maxCooldownMs: 600_000,
      degradedAfter: 3,
      discardOnQuota: true,
    });
    const stats = new Stats(clock);
    const keys = Array.from({ length: 30 }, (_, i) => ({
      id: `k${i}`,
      providerId: 'openai',
      label: `key-${i}`,
      masked: `sk-…${1000 + i}`,
      addedAt: 1,
      secret: `sk-secret-secret-${1000 + i}`,
    }));
    pool.setKeys(keys);
    for (let m = 0; m < 3; m++) {
      for (let i = 0; i <= m; i++)
        stats.record({
          keyId: 'k1',
          providerId: 'openai',
          endpoint: '/chat',
          ok: true,
          status: 200,
          latencyMs: 1500,
          ttfbMs: 200,
          inputTokens: 10,
        });
      clock.advance(60_000);
    }
    pool.report('k1', 'gpt-4o', {
      kind: 'rate-limited',
      status: 429,
      retryAfterMs: 30_000,
      reason: 'HTTP 429 slow down',
    });
    const doc = buildDashboard({ pool, stats, catalogue: new ProviderCatalogue([]) }, { ...DEFAULT_QUERY, limit: 20 });
    const lines = renderWatch(doc, 'http://127.0.0.1:8787', 12, 150);
    assert.match(
      lines[0],
      /^KeyRelay at http:\/\/127\.0\.0\.1:8787 · 29\/30 keys usable · 1 cooling · 0 invalid · 0 discarded · 6 requests today/,
    );
    assert.match(lines[3], /^OpenAI +[ ▁-█]*█ +0 +0 +1\d\d ms +2\.\d s$/);
    assert.match(lines[6], /^key-1 sk-…1001 +active, gpt-4o 30s +6 +100% +60 +█ +HTTP 429 slow down$/);
    assert.equal(lines.length, 12, 'as many lines as the terminal has rows');
    assert.match(lines[11], /^… 25 more keys \(busiest first\)$/);
    assert.ok(renderWatch(doc, 'x', 12, 40).every((l) => l.length <= 40));
    assert.ok(!lines.join('\n').includes('secret'));
    pool.dispose();
    stats.dispose();
  });
});
