/**
 * Every id the extension shares with package.json, written once. A test checks that each command
 * here is contributed and registered, so a typo cannot hide.
 */

export const Command = {
  addKey: 'keyRelay.addKey',
  importKeys: 'keyRelay.importKeys',
  testKey: 'keyRelay.testKey',
  testAllKeys: 'keyRelay.testAllKeys',
  discardKey: 'keyRelay.discardKey',
  restoreKey: 'keyRelay.restoreKey',
  removeKey: 'keyRelay.removeKey',
  renameKey: 'keyRelay.renameKey',
  setKeyAccount: 'keyRelay.setKeyAccount',
  startProxy: 'keyRelay.startProxy',
  stopProxy: 'keyRelay.stopProxy',
  restartProxy: 'keyRelay.restartProxy',
  copyEndpoint: 'keyRelay.copyEndpoint',
  copyAccessToken: 'keyRelay.copyAccessToken',
  showStatus: 'keyRelay.showStatus',
  showLog: 'keyRelay.showLog',
  resetStats: 'keyRelay.resetStats',
  showActions: 'keyRelay.showActions',
  configureContinue: 'keyRelay.configureContinue',
  configureClaudeCode: 'keyRelay.configureClaudeCode',
  configureCodex: 'keyRelay.configureCodex',
  configureAider: 'keyRelay.configureAider',
  showClineSetup: 'keyRelay.showClineSetup',
} as const;
export type CommandId = (typeof Command)[keyof typeof Command];

export const View = {
  container: 'keyRelay',
  keys: 'keyRelay.keys',
} as const;

export const ContextKey = {
  proxyRunning: 'keyRelay.proxyRunning',
  hasKeys: 'keyRelay.hasKeys',
} as const;

/** Setting names below the `keyRelay` section. */
export const Setting = {
  section: 'keyRelay',
  port: 'proxy.port',
  host: 'proxy.host',
  autoStart: 'proxy.autoStart',
} as const;

/** globalState keys of the extension itself (the key vault names its own: core/keys/keyVault.ts). */
export const StorageKey = {
  health: 'keyRelay.health',
  stats: 'keyRelay.stats',
  warnedStorage: 'keyRelay.warnedInsecureStorage',
} as const;

/** The internal id of the status-bar item (shown in "Hide 'KeyRelay'" menus). */
export const STATUS_ITEM_ID = 'keyRelay.status';
