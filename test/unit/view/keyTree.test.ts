import * as assert from 'node:assert/strict';
import { coolingModels, isFullyUsable } from '../../../src/core/view/keyRow';
import { groupKeys, renderKey } from '../../../src/core/view/keyTree';
import { row } from '../fakes/keyRows';

const NOW = 1_700_000_000_000;

suite('key rows: per-model cooldowns', () => {
  test('an active key cooling for one model says which, how long, and why, and offers Restore', () => {
    const r = row({
      modelCooldowns: { 'gpt-4o': NOW + 12_000, 'gpt-old': NOW - 1 },
      history: [
        {
          at: NOW - 1000,
          from: 'active',
          to: 'cooling',
          reason: 'rate limited for gpt-4o (429): slow down',
          model: 'gpt-4o',
        },
      ],
    });
    assert.deepEqual(coolingModels(r, NOW), [
      { model: 'gpt-4o', until: NOW + 12_000, reason: 'rate limited for gpt-4o (429): slow down' },
    ]);
    assert.equal(isFullyUsable(r, NOW), false);
    const out = renderKey(r, NOW);
    assert.equal(out.description, 'sk-…1111 · 3 today · gpt-4o cools 12s');
    assert.equal(out.icon, 'watch');
    assert.equal(out.contextValue, 'key:cooling', 'the Restore action shows for it');
    assert.equal(renderKey(r, NOW + 12_000).description, 'sk-…1111 · 3 today', 'the countdown ends on its own');
    assert.equal(isFullyUsable(r, NOW + 12_000), true);
  });

  test('several models: the soonest, then how many more', () => {
    const r = row({ modelCooldowns: { a: NOW + 90_000, b: NOW + 5_000, c: NOW + 600_000 } });
    assert.deepEqual(
      coolingModels(r, NOW).map((m) => m.model),
      ['b', 'a', 'c'],
    );
    assert.equal(renderKey(r, NOW).description, 'sk-…1111 · 3 today · b cools 5s (+2 more)');
  });

  test('key-wide states render as before', () => {
    assert.equal(
      renderKey(row({ state: 'cooling', coolingUntil: NOW + 30_000 }), NOW).description,
      'sk-…1111 · 3 today · cools for 30s',
    );
    assert.equal(renderKey(row({ state: 'invalid' }), NOW).contextValue, 'key:invalid');
    assert.equal(renderKey(row({ state: 'discarded' }), NOW).description, 'sk-…1111 · 3 today · discarded');
    assert.equal(isFullyUsable(row({ state: 'cooling', coolingUntil: NOW + 1 }), NOW), false);
  });
});

suite('key tree grouping', () => {
  test('a key over its budget says so and when it is back; its menus stay those of its state', () => {
    const now = 1_700_000_000_000;
    const r = renderKey(row({ overBudget: { until: now + 30 * 60_000, reason: 'over budget' } }), now);
    assert.match(r.description, / · over budget, back in 30m$/);
    assert.equal(r.contextValue, 'key:active');
    assert.equal(r.icon, 'watch');
    assert.ok(!isFullyUsable(row({ overBudget: { until: now + 1, reason: '' } }), now));
    assert.ok(isFullyUsable(row({ overBudget: { until: now, reason: '' } }), now), 'back at its period end');
  });

  test('providers in first-seen order, accounts before loose keys, keys in order', () => {
    const rows = [
      row({ id: 'a', providerId: 'openai' }),
      row({ id: 'b', providerId: 'anthropic', account: 'team' }),
      row({ id: 'c', providerId: 'openai', account: 'work' }),
      row({ id: 'd', providerId: 'anthropic' }),
      row({ id: 'e', providerId: 'anthropic', account: 'team' }),
    ];
    const tree = groupKeys(rows, (id) => id.toUpperCase());
    const outline = (nodes: ReturnType<typeof groupKeys>): unknown[] =>
      nodes.map((n) =>
        n.kind === 'key'
          ? n.row.id
          : n.kind === 'account'
            ? [n.account, outline(n.children)]
            : [n.name, outline(n.children)],
      );
    assert.deepEqual(outline(tree), [
      ['OPENAI', [['work', ['c']], 'a']],
      ['ANTHROPIC', [['team', ['b', 'e']], 'd']],
    ]);
    assert.equal(tree[1].kind === 'provider' && tree[1].keys.length, 3);
    const team = tree[1].kind === 'provider' ? tree[1].children[0] : undefined;
    assert.deepEqual(team?.kind === 'account' && team.keys, [rows[1], rows[4]]);
    // Every key node knows its row's place in the rows it was grouped from (the tree's lookup).
    const leaves = (nodes: ReturnType<typeof groupKeys>): Array<{ row: unknown; index: number }> =>
      nodes.flatMap((n) => (n.kind === 'key' ? [n] : leaves(n.children)));
    const found = leaves(tree);
    assert.equal(found.length, rows.length);
    for (const leaf of found) assert.equal(rows[leaf.index], leaf.row);
  });

  test('10,000 keys group in one pass (no per-row copies)', () => {
    const rows = Array.from({ length: 10_000 }, (_, i) =>
      row({ id: `k${i}`, providerId: `p${i % 3}`, account: i % 5 ? undefined : `acc${i % 7}` }),
    );
    const tree = groupKeys(rows, (id) => id);
    assert.equal(tree.length, 3);
    const count = (nodes: ReturnType<typeof groupKeys>): number =>
      nodes.reduce((n, x) => n + (x.kind === 'key' ? 1 : count(x.children)), 0);
    assert.equal(count(tree), 10_000);
  });
});
