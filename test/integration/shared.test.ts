// Shared state in the editor (issue 18): with keyRelay.stateStore set, the keys tree's first row,
// the status item and the dashboard's document say which store (no password), which pool, and
// whether it is connected; a real redis-server stopped mid-test turns them to "down".
import * as assert from 'node:assert';
import { DEFAULT_QUERY } from '../../src/core/accounting/dashboard';
import type { TestInternals } from '../../src/vscode/testHook';
import { Setting } from '../../src/vscode/ids';
import { RedisServer } from '../fakes/redisServer';
import { until } from '../fakes/waits';
import { getApi, setSetting } from './extensionHelpers';

const TEAM_SECRET = 'keyRelay.teamSecret';

suite('KeyRelay shared state in the editor', () => {
  let api: TestInternals;
  let redis: RedisServer;

  suiteSetup(async () => {
    api = await getApi();
    await api.ready;
    redis = await RedisServer.start();
  });
  suiteTeardown(async () => {
    await api.secrets.delete(TEAM_SECRET);
    await redis.close();
  });

  const row = () => api.treeOutline()[0] ?? '';
  const shows = (what: string, cond: () => boolean) => until(api.hub.onDidChange, cond, what, 15_000);

  test('the tree row, the status item and the dashboard show the store, then "down" when it stops', async () => {
    const restore = await setSetting(Setting.stateStore, `${redis.url}?pool=host-team`);
    try {
      // No team secret yet: the row says so (a click sets it) and nothing connects.
      await shows('no team secret', () =>
        /^Shared state · no team secret · redis:\/\/127\.0\.0\.1:\d+\/0 · pool host-team$/.test(row()),
      );
      assert.match(api.statusText(), / · \$\(warning\) shared no team secret$/);
      await api.secrets.store(TEAM_SECRET, 'host-test-team-secret-0123456789');
      await shows('connected', () => row().startsWith('Shared state · connected · redis://127.0.0.1:'));
      assert.match(api.statusText(), / \$\(database\)$/);
      // The tooltip is Markdown: its text is escaped.
      assert.match(
        api.statusTooltip().replace(/\\(.)/g, '$1'),
        /Shared state: redis:\/\/127\.0\.0\.1:\d+\/0 · pool host-team · connected/,
      );
      const { doc } = await api.feed.get({ ...DEFAULT_QUERY });
      assert.deepStrictEqual([doc.shared?.state, doc.shared?.pool], ['connected', 'host-team']);
      await redis.stop();
      await shows('down', () => row().startsWith('Shared state · down: serving on local state · redis://'));
      assert.match(api.statusText(), / · \$\(warning\) shared down$/);
      await redis.start();
      await shows('connected again', () => row().startsWith('Shared state · connected'));
    } finally {
      await restore();
    }
    await shows('the row gone with the setting', () => !row().startsWith('Shared state'));
    assert.doesNotMatch(api.statusText(), /shared|database/);
  });
});
