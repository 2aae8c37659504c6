import * as assert from 'node:assert/strict';
import { PRICE_TABLE, PRICES_AS_OF } from '../../../src/core/config/priceTable';
import { costOf, formatUsd, PriceBook } from '../../../src/core/config/prices';
import { normalizeConfig } from '../../../src/core/config/proxyConfig';

suite('price table and cost', () => {
  test('the shipped table is dated and every price is a non-negative number', () => {
    assert.match(PRICES_AS_OF, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(Object.keys(PRICE_TABLE).length >= 20);
    for (const [model, p] of Object.entries(PRICE_TABLE)) {
      for (const v of [p.input, p.output, p.cachedInput ?? 0, p.cacheWrite ?? 0])
        assert.ok(Number.isFinite(v) && v >= 0, model);
      assert.ok(p.output >= p.input || model.startsWith('deepseek'), `${model}: output usually costs more`);
    }
  });

  test('lookup: exact id, dated snapshots and aliases, vendor prefixes, provider-only overrides', () => {
    const book = new PriceBook({ 'openrouter/gpt-4o': { input: 3, output: 12 }, 'my-model': { input: 1, output: 2 } });
    assert.equal(book.priceOf('openai', 'gpt-4o')?.input, 2.5);
    assert.equal(book.priceOf('openai', 'gpt-4o-2024-08-06')?.input, 2.5, 'a dated snapshot has its base price');
    assert.equal(book.priceOf('openai', 'gpt-4o-2024-05-13')?.input, 5, 'unless the table lists the snapshot itself');
    assert.equal(book.priceOf('anthropic', 'claude-sonnet-4-5-20250929')?.output, 15);
    assert.equal(book.priceOf('anthropic', 'claude-3-5-haiku-latest')?.input, 0.8);
    assert.equal(book.priceOf('together', 'openai/gpt-4o-mini')?.input, 0.15, 'vendor prefix dropped');
    assert.equal(book.priceOf('openrouter', 'gpt-4o')?.input, 3, 'provider/model wins for that provider');
    assert.equal(book.priceOf('custom', 'my-model')?.output, 2, 'the user extends the table');
    assert.equal(book.priceOf('openai', 'gpt-4o-realtime-preview'), undefined, 'no prefix guessing');
    assert.equal(book.priceOf('anthropic', 'claude-opus-4-6'), undefined, 'a model the table does not know');
    assert.equal(book.priceOf('openai', undefined), undefined);
    assert.equal(book.asOf, PRICES_AS_OF);
  });

  test('lookups of many client-sent model names stay bounded and still answer right', () => {
    const book = new PriceBook();
    for (let i = 0; i < 1500; i++) assert.equal(book.priceOf('openai', `made-up-${i}`), undefined);
    assert.equal(book.priceOf('openai', 'gpt-4o')?.output, 10);
    assert.equal(book.priceOf('openai', 'gpt-4o')?.output, 10, 'from the cache');
  });

  test('an override replaces a shipped price', () => {
    assert.equal(new PriceBook({ 'gpt-4o': { input: 1, output: 1 } }).priceOf('openai', 'gpt-4o')?.output, 1);
  });

  test('OpenAI counts cached tokens inside the input; Anthropic adds cache reads and writes on top', () => {
    const p = { input: 2, output: 10, cachedInput: 0.5, cacheWrite: 2.5 };
    // 1,000 prompt tokens of which 400 cached, 100 out: 600 × 2 + 400 × 0.5 + 100 × 10 = 2,400 µ$.
    assert.equal(costOf(p, 'openai', { inputTokens: 1000, cachedTokens: 400, outputTokens: 100 }), 0.0024);
    // 1,000 fresh + 400 read + 200 written + 100 out: 2,000 + 200 + 500 + 1,000 = 3,700 µ$.
    const anth = costOf(p, 'anthropic', {
      inputTokens: 1000,
      cachedTokens: 400,
      cacheWriteTokens: 200,
      outputTokens: 100,
    });
    assert.ok(Math.abs(anth - 0.0037) < 1e-12, String(anth));
    // No cached price: cached tokens cost the input price.
    assert.equal(costOf({ input: 1, output: 1 }, 'openai', { inputTokens: 10, cachedTokens: 10 }), 0.00001);
  });

  test('unknown model or no usage reported: the cost is unknown, never 0', () => {
    const book = new PriceBook();
    assert.equal(
      book.cost('anthropic', 'anthropic', 'claude-opus-4-6', { inputTokens: 10, outputTokens: 5 }),
      undefined,
    );
    assert.equal(book.cost('openai', 'openai', 'gpt-4o', {}), undefined);
    assert.equal(book.cost('openai', 'openai', 'gpt-4o', { inputTokens: 1_000_000 }), 2.5);
  });

  test('USD for people: cents from a dollar, more digits below', () => {
    assert.equal(formatUsd(0), '$0.00');
    assert.equal(formatUsd(12.345), '$12.35');
    assert.equal(formatUsd(0.0123), '$0.0123');
    assert.equal(formatUsd(0.00009), '$0.000090');
  });

  test('the prices and budgets settings are checked with messages that show the shape', () => {
    const ok = normalizeConfig({
      prices: { 'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 } },
      budgets: { keys: { work: { dailyUsd: 5 } }, accounts: { team: { monthlyUsd: 100 } } },
    });
    assert.equal(ok.prices['gpt-4o'].cachedInput, 1.25);
    assert.equal(ok.budgets.keys.work.dailyUsd, 5);
    assert.throws(
      () => normalizeConfig({ prices: { 'gpt-4o': { input: 2.5 } } }),
      /"prices" must be an object of model ids/,
    );
    assert.throws(() => normalizeConfig({ prices: { x: { input: -1, output: 1 } } }), /"prices" must be/);
    assert.throws(
      () => normalizeConfig({ budgets: { keys: { a: { daily: 5 } } } }),
      /"budgets" must be an object like/,
    );
    assert.throws(() => normalizeConfig({ budgets: { keys: { a: { dailyUsd: '5' } } } }), /"budgets" must be/);
  });
});
