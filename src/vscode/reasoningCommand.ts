import * as vscode from 'vscode';
import { settingProblem } from '../core/config/proxyConfig';
import { globalLevel, withGlobalLevel } from '../core/proxy/reasoning';
import { REASONING_LEVELS } from '../core/types';
import type { ReasoningLevel, ReasoningSetting } from '../core/types';
import { Setting, SETTINGS_SECTION } from './ids';
import type { Prompts } from './prompts';

const DESCRIPTIONS: Record<ReasoningLevel, string> = {
  off: 'as little as each model allows (GPT-5 minimal, Gemini none, Claude without thinking)',
  auto: "the client's own choice; requests pass unchanged",
  low: 'effort low; Claude thinks up to 2,048 tokens',
  medium: 'effort medium; Claude thinks up to 8,192 tokens',
  high: 'effort high; Claude thinks up to 16,384 tokens',
  max: 'effort high; Claude thinks up to 24,576 tokens',
};

/** `keyRelay.reasoning` as set, or `auto` when the value is not one KeyRelay accepts. */
function readSetting(): ReasoningSetting {
  const raw = vscode.workspace.getConfiguration(SETTINGS_SECTION).get<unknown>(Setting.reasoning);
  return settingProblem('reasoning', raw, 'keyRelay.reasoning') ? 'auto' : (raw as ReasoningSetting);
}

/** The global level, for the status bar menu's description. */
export function currentLevel(): string {
  return `now: ${globalLevel(readSetting())}`;
}

/**
 * "KeyRelay: Set Reasoning Level": picks the level for every model and writes it to the user's
 * settings; per-model patterns stay as they are. The proxy applies it to the next request.
 */
export async function setReasoningLevel(prompts: Prompts): Promise<ReasoningLevel | undefined> {
  const setting = readSetting();
  const now = globalLevel(setting);
  const items = REASONING_LEVELS.map((level) => ({
    label: level === now ? `$(check) ${level}` : level,
    description: DESCRIPTIONS[level],
    level,
  }));
  const pick = await prompts.quickPick(items, {
    title: 'KeyRelay: Reasoning Level',
    placeHolder: `Reasoning for every model (now ${now}); per-model patterns in keyRelay.reasoning still win`,
  });
  if (!pick) return undefined;
  await vscode.workspace
    .getConfiguration(SETTINGS_SECTION)
    .update(Setting.reasoning, withGlobalLevel(setting, pick.level), vscode.ConfigurationTarget.Global);
  return pick.level;
}
