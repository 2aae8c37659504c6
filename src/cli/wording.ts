import { SETTING_FIELDS } from '../core/config/editorSettings';

/**
 * The core's messages speak the editor's words (settings such as keyRelay.proxy.maxBodyMB,
 * commands such as "KeyRelay: Add Key"). In a terminal those are no help: this rewrites them into
 * the CLI's flags and config fields, for the error bodies clients get and the log lines on stderr.
 */
const PHRASES: ReadonlyArray<[RegExp, string]> = [
  // Editor-side hints for CLI users are redundant once the words below are the CLI's.
  [/ \(CLI: [^)]*\)/g, ''],
  [
    /,? ?or run "KeyRelay: Restore Key" \/ "KeyRelay: Test Key" once they work again/g,
    ' ("keyrelay status" shows each key\'s state)',
  ],
  [/"KeyRelay: Test Key"/g, '"keyrelay status"'],
  [/"KeyRelay: Restore Key"/g, 'a restart of KeyRelay'],
  [/"KeyRelay: Add Key"/g, '--keys-file, a "keys" entry in --config or a <PROVIDER>_API_KEY variable'],
  [/"KeyRelay: Copy Access Token"/g, '"keyrelay token"'],
  [/"KeyRelay: Show Log"/g, 'the log on stderr'],
  [/Reload the window so both see the same keys\./g, 'Check the id with "keyrelay status --json".'],
  [/\bkeyRelay\.providers\b/g, '"providers" in the --config file'],
];

/** `keyRelay.<setting>` → the `proxy` field of the --config file it stands for. */
const SETTINGS: ReadonlyArray<[RegExp, string]> = SETTING_FIELDS.map(([setting, field]) => [
  new RegExp(`\\bkeyRelay\\.${setting.replace(/\./g, '\\.')}\\b`, 'g'),
  `"${field}" in the --config file's "proxy" object`,
]);

/** `message` in the CLI's words. */
export function cliWording(message: string): string {
  let out = message;
  for (const [from, to] of [...PHRASES, ...SETTINGS]) out = out.replace(from, to);
  return out;
}
