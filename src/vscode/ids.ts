/**
 * Every id the extension shares with package.json, written once. Host tests (commands.test.ts)
 * check both ways that each command, view, context key and setting here is in package.json, so a
 * typo cannot hide.
 */

export const Command = {
  addKey: 'keyRelay.addKey',
  addKeyFromCommand: 'keyRelay.addKeyFromCommand',
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
  openDashboard: 'keyRelay.openDashboard',
  compareModels: 'keyRelay.compareModels',
  showLog: 'keyRelay.showLog',
  resetStats: 'keyRelay.resetStats',
  showActions: 'keyRelay.showActions',
  configureContinue: 'keyRelay.configureContinue',
  configureClaudeCode: 'keyRelay.configureClaudeCode',
  configureCodex: 'keyRelay.configureCodex',
  configureAider: 'keyRelay.configureAider',
  showClineSetup: 'keyRelay.showClineSetup',
  setReasoningLevel: 'keyRelay.setReasoningLevel',
  openRequestLog: 'keyRelay.openRequestLog',
  setTeamSecret: 'keyRelay.setTeamSecret',
} as const;
export type CommandId = (typeof Command)[keyof typeof Command];

/** The activity-bar container and the views in it. */
export const View = {
  container: 'keyRelay',
  keys: 'keyRelay.keys',
} as const;

/** Context keys the extension sets for `when` clauses. */
export const ContextKey = {
  proxyRunning: 'keyRelay.proxyRunning',
  hasKeys: 'keyRelay.hasKeys',
} as const;

/** The configuration section: `getConfiguration(SETTINGS_SECTION).get(Setting.port)`. */
export const SETTINGS_SECTION = 'keyRelay';

/** Setting names below SETTINGS_SECTION (package.json's `keyRelay.<name>`). */
export const Setting = {
  port: 'proxy.port',
  autoStart: 'proxy.autoStart',
  host: 'proxy.host',
  ipv4Only: 'proxy.ipv4Only',
  allowedOrigins: 'proxy.allowedOrigins',
  allowedHosts: 'proxy.allowedHosts',
  passthrough: 'proxy.passthrough',
  maxBodyMB: 'proxy.maxBodyMB',
  strategy: 'rotation.strategy',
  cooldownSeconds: 'rotation.cooldownSeconds',
  maxCooldownSeconds: 'rotation.maxCooldownSeconds',
  degradedAfter: 'rotation.degradedAfter',
  discardOnQuota: 'rotation.discardOnQuota',
  retestIntervalMinutes: 'rotation.retestIntervalMinutes',
  maxConcurrentPerKey: 'rotation.maxConcurrentPerKey',
  maxConcurrentPerKeyModel: 'rotation.maxConcurrentPerKeyModel',
  connectSeconds: 'timeouts.connectSeconds',
  headersSeconds: 'timeouts.headersSeconds',
  idleSeconds: 'timeouts.idleSeconds',
  clientHeadersSeconds: 'timeouts.clientHeadersSeconds',
  clientBodySeconds: 'timeouts.clientBodySeconds',
  credentialCommandSeconds: 'timeouts.credentialCommandSeconds',
  maxAttempts: 'retry.maxAttempts',
  maxWaitSeconds: 'retry.maxWaitSeconds',
  logRequests: 'logging.requests',
  logMaxEntryKB: 'logging.maxEntryKB',
  logMaxFileMB: 'logging.maxFileMB',
  logKeepDays: 'logging.keepDays',
  dailyResetHour: 'stats.dailyResetHour',
  metricsWithoutToken: 'metrics.allowWithoutToken',
  allowKeyLease: 'allowKeyLease',
  reasoning: 'reasoning',
  nonReasoningModels: 'nonReasoningModels',
  stateStore: 'stateStore',
  providers: 'providers',
  credentialCommands: 'credentialCommands',
  chatModels: 'chatModels',
} as const;
export type SettingName = (typeof Setting)[keyof typeof Setting];

/** globalState keys of the extension itself (the key vault names its own: core/keys/keyVault.ts). */
export const StorageKey = {
  health: 'keyRelay.health',
  stats: 'keyRelay.stats',
  warnedStorage: 'keyRelay.warnedInsecureStorage',
  /** Which assistants KeyRelay configured, and with which model (client wiring). */
  wiredClients: 'keyRelay.wiredClients',
} as const;

/** The internal id of the status-bar item (shown in "Hide 'KeyRelay'" menus). */
export const STATUS_ITEM_ID = 'keyRelay.status';
