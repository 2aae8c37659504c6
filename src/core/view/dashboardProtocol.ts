/**
 * The messages between the dashboard webview and the extension (issue 17). The webview only asks;
 * the extension answers with documents built in the core and runs the same commands as the tree.
 */
import type { DashboardDoc, DashboardQuery } from '../accounting/dashboard';

/** What the key table's buttons do: the tree's Test / Discard / Restore / Remove commands. */
export type DashboardAction = 'test' | 'discard' | 'restore' | 'remove';

export type ToExtension =
  | { type: 'ready' }
  | { type: 'query'; query: DashboardQuery }
  | { type: 'action'; action: DashboardAction; id: string };

export type ToWebview =
  { type: 'doc'; doc: DashboardDoc; source: 'local' | 'leader' } | { type: 'error'; message: string };
