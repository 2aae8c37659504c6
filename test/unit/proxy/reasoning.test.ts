import * as assert from 'node:assert/strict';
import { defaultConfig, normalizeConfig } from '../../../src/core/config/proxyConfig';
import {
  ANSWER_ROOM,
  ANTHROPIC_BUDGETS,
  applyReasoning,
  globalLevel,
  levelFor,
  withGlobalLevel,
} from '../../../src/core/proxy/reasoning';
import type { ReasoningTarget } from '../../../src/core/proxy/reasoning';
import type { ProxyConfig, ReasoningSetting } from '../../../src/core/types';

const OPENAI = { id: 'openai', shape: 'openai' } as const;
const ANTHROPIC = { id: 'anthropic', shape: 'anthropic' } as const;
const GEMINI = { id: 'gemini', shape: 'openai' } as const;

function cfg(reasoning: ReasoningSetting, extra: Partial<ProxyConfig> = {}): ProxyConfig {
  return { ...defaultConfig(), reasoning, ...extra };
}

function run(body: object, target: ReasoningTarget, c: ProxyConfig): Record<string, unknown> {
  return JSON.parse(applyReasoning(Buffer.from(JSON.stringify(body)), target, c).toString('utf8'));
}

const chat = (model: string, provider: ReasoningTarget['provider'] = OPENAI): ReasoningTarget => ({
  provider,
  rest: '/chat/completions',
  model,
});

suite('reasoning levels', () => {
  const expectOpenai = { off: 'minimal', low: 'low', medium: 'medium', high: 'high', max: 'high' } as const;
  const expectGemini = { off: 'none', low: 'low', medium: 'medium', high: 'high', max: 'high' } as const;

  for (const level of ['off', 'low', 'medium', 'high', 'max'] as const) {
    test(`${level}: OpenAI chat reasoning_effort, replacing the client's`, () => {
      const out = run({ model: 'gpt-5', reasoning_effort: 'medium', messages: [] }, chat('gpt-5'), cfg(level));
      assert.equal(out.reasoning_effort, expectOpenai[level]);
      assert.deepEqual(out.messages, []);
    });

    test(`${level}: Responses reasoning.effort, keeping the client's summary`, () => {
      const target = { provider: OPENAI, rest: '/responses', model: 'o3' };
      const out = run({ model: 'o3', input: 'hi', reasoning: { summary: 'auto' } }, target, cfg(level));
      const effort = level === 'off' ? 'low' : expectOpenai[level]; // o3 takes nothing below low
      assert.deepEqual(out.reasoning, { summary: 'auto', effort });
    });

    test(`${level}: Gemini's OpenAI-compatible reasoning_effort`, () => {
      const out = run({ model: 'gemini-2.5-flash', messages: [] }, chat('gemini-2.5-flash', GEMINI), cfg(level));
      assert.equal(out.reasoning_effort, expectGemini[level]);
    });
  }

  for (const level of ['low', 'medium', 'high', 'max'] as const) {
    test(`${level}: Anthropic thinking budget, max_tokens raised above it, sampling knobs thinking refuses dropped`, () => {
      const target = { provider: ANTHROPIC, rest: '/messages', model: 'claude-sonnet-4-5' };
      const body = { model: 'claude-sonnet-4-5', max_tokens: 1024, temperature: 0.2, top_k: 5, messages: [] };
      const out = run(body, target, cfg(level));
      const budget = ANTHROPIC_BUDGETS[level];
      assert.deepEqual(out.thinking, { type: 'enabled', budget_tokens: budget });
      assert.equal(out.max_tokens, budget + ANSWER_ROOM);
      assert.equal('temperature' in out, false);
      assert.equal('top_k' in out, false);
    });
  }

  test('off on OpenAI is the least each model takes: minimal (GPT-5), none (GPT-5.1+), low (o-series, others)', () => {
    const off = (model: string): unknown => run({ model }, chat(model), cfg('off')).reasoning_effort;
    assert.deepEqual(
      ['gpt-5', 'gpt-5-mini', 'openai/gpt-5-nano', 'gpt-5.1', 'GPT-5.2-codex', 'o3', 'o4-mini', 'grok-3-mini'].map(off),
      ['minimal', 'minimal', 'minimal', 'none', 'none', 'low', 'low', 'low'],
    );
  });

  test('Anthropic: a max_tokens already above the budget is kept; off removes the client thinking block', () => {
    const target = { provider: ANTHROPIC, rest: '/messages', model: 'claude-opus-4-1' };
    const big = run({ model: 'x', max_tokens: 64000, temperature: 1, top_p: 0.99 }, target, cfg('high'));
    assert.equal(big.max_tokens, 64000);
    assert.equal(big.temperature, 1);
    assert.equal(big.top_p, 0.99);
    const off = run(
      { model: 'x', max_tokens: 10, thinking: { type: 'enabled', budget_tokens: 2000 } },
      target,
      cfg('off'),
    );
    assert.equal('thinking' in off, false);
    assert.equal(off.max_tokens, 10);
  });

  test('auto, non-reasoning models, other endpoints and non-JSON bodies are forwarded byte for byte', () => {
    const body = Buffer.from('{"model":"gpt-5",  "reasoning_effort":"low"}');
    assert.equal(applyReasoning(body, chat('gpt-5'), cfg('auto')), body, 'auto');
    assert.equal(applyReasoning(body, chat('gpt-4o-mini'), cfg('high')), body, 'listed as non-reasoning');
    assert.equal(applyReasoning(body, chat('openai/gpt-4o'), cfg('high')), body, 'OpenRouter id, last segment listed');
    assert.equal(applyReasoning(body, { provider: OPENAI, rest: '/embeddings', model: 'gpt-5' }, cfg('high')), body);
    const count = { provider: ANTHROPIC, rest: '/messages/count_tokens', model: 'claude-opus-4' };
    assert.equal(applyReasoning(body, count, cfg('high')), body);
    const broken = Buffer.from('{"model":"gpt-5", oops}');
    assert.equal(applyReasoning(broken, chat('gpt-5'), cfg('high')), broken);
    const list = Buffer.from('[1]');
    assert.equal(applyReasoning(list, chat('gpt-5'), cfg('high')), list);
    assert.equal(
      applyReasoning(body, { provider: OPENAI, rest: '/chat/completions', model: undefined }, cfg('high')),
      body,
    );
    // The list is a setting: emptied, gpt-4o gets the field like any model.
    const opened = run({ model: 'gpt-4o' }, chat('gpt-4o'), cfg('high', { nonReasoningModels: [] }));
    assert.equal(opened.reasoning_effort, 'high');
  });

  test('per model patterns: the exact id wins, then the longest pattern; unmatched models stay auto', () => {
    const s = { '*': 'low', 'claude-*': 'high', 'claude-opus-*': 'max', 'gpt-5-mini': 'off' } as const;
    assert.equal(levelFor(s, 'claude-opus-4-1', 'anthropic'), 'max');
    assert.equal(levelFor(s, 'claude-sonnet-4-5', 'anthropic'), 'high');
    assert.equal(levelFor(s, 'gpt-5-mini', 'openai'), 'off');
    assert.equal(levelFor(s, 'GPT-5', 'openai'), 'low');
    assert.equal(levelFor({ 'openrouter/*': 'high' }, 'deepseek/deepseek-r1', 'openrouter'), 'high');
    assert.equal(levelFor({ 'gpt-5*': 'medium' }, 'o3', 'openai'), 'auto');
    const body = Buffer.from('{"model":"o3"}');
    assert.equal(applyReasoning(body, chat('o3'), cfg({ 'gpt-5*': 'medium' })), body);
    assert.equal(run({ model: 'gpt-5.1' }, chat('gpt-5.1'), cfg({ 'gpt-5*': 'medium' })).reasoning_effort, 'medium');
  });

  test('the setting is checked like every other: levels or an object of patterns to levels', () => {
    assert.deepEqual(normalizeConfig({ reasoning: { 'claude-*': 'high' } }).reasoning, { 'claude-*': 'high' });
    assert.equal(normalizeConfig({ reasoning: 'max' }).reasoning, 'max');
    assert.throws(() => normalizeConfig({ reasoning: 'extreme' }), /"reasoning" must be one of off, auto, low/);
    assert.throws(() => normalizeConfig({ reasoning: { 'claude-*': 'loud' } }), /model patterns to levels/);
    assert.throws(() => normalizeConfig({ reasoning: ['high'] }), /got a list/);
    assert.throws(() => normalizeConfig({ nonReasoningModels: ['', 'x'] }), /"nonReasoningModels" must be a list/);
  });

  test('Set Reasoning Level changes the global level and keeps the per-model patterns', () => {
    assert.equal(withGlobalLevel('auto', 'high'), 'high');
    assert.deepEqual(withGlobalLevel({ 'claude-*': 'max' }, 'low'), { 'claude-*': 'max', '*': 'low' });
    assert.equal(globalLevel('medium'), 'medium');
    assert.equal(globalLevel({ 'claude-*': 'max' }), 'auto');
    assert.equal(globalLevel({ '*': 'off' }), 'off');
  });
});
