import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ProxyError } from '../core/errors';
import { importKeys, keyIdentity } from '../core/config/importers';
import type { ImportedKey } from '../core/config/importers';
import type { ProviderCatalogue } from '../core/config/providers';
import { maskKey } from '../core/redact';
import type { PoolKey } from '../core/types';

/** A key as a config file, keys file or environment variable describes it. */
export type KeyInput = ImportedKey;

/**
 * A stable id from the key's provider and text, so persisted health and stats find their key
 * again after a restart without the state file ever holding the key.
 */
export function keyId(providerId: string, secret: string): string {
  // One-shot hash: a Hash object per key left ~5 MB of native memory behind at 1,000 keys. The
  // slice keeps its 64-character parent (~70 bytes a key), but `buf.toString('hex', 0, 8)` for
  // each key made Node's `getEncodingOps` hot enough at startup to page in V8's optimizing
  // compiler: +1.2 MB RSS at 1,000 keys, against 0.07 MB for the parents.
  return hash('sha256', `${providerId}\0${secret}`, 'hex').slice(0, 16);
}

/** Turns inputs into pool keys, dropping repeats (same provider and text), with labels where none was given. */
export function toPoolKeys(
  inputs: KeyInput[],
  catalogue: ProviderCatalogue,
  now: number,
): { keys: PoolKey[]; duplicates: string[] } {
  const seen = new Set<string>();
  const keys: PoolKey[] = [];
  const duplicates: string[] = [];
  const perProvider = new Map<string, number>();
  for (const k of inputs) {
    const provider = catalogue.get(k.providerId);
    if (!provider) {
      throw new ProxyError(
        'invalid_config',
        400,
        `A key names provider ${shownId(k.providerId)}, which is neither a preset (${catalogue
          .list()
          .map((p) => p.id)
          .join(', ')}) nor in "providers".`,
      );
    }
    const masked = maskKey(k.secret, provider.keyPrefix);
    const identity = keyIdentity(provider.id, k.secret);
    if (seen.has(identity)) {
      duplicates.push(masked);
      continue;
    }
    seen.add(identity);
    const n = (perProvider.get(provider.id) ?? 0) + 1;
    perProvider.set(provider.id, n);
    keys.push({
      id: keyId(provider.id, k.secret),
      providerId: provider.id,
      label: k.label ?? `${provider.id}-${n}`,
      masked,
      models: k.models,
      baseUrl: k.baseUrl,
      weight: k.weight,
      account: k.account,
      addedAt: now,
      secret: k.secret,
    });
  }
  return { keys, duplicates };
}

/** `*_API_KEY`, `*_API_KEY_N` and `*_KEYS` variables, as the .env importer reads them. */
export function keysFromEnv(env: NodeJS.ProcessEnv, catalogue: ProviderCatalogue): KeyInput[] {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value && /^[A-Z][A-Z0-9_]*_(API_KEY(_\d+)?|KEYS)$/.test(name) && name !== 'KEYRELAY_KEYS')
      lines.push(`${name}=${value}`);
  }
  if (lines.length === 0) return [];
  return importKeys(lines.join('\n'), { fileName: '.env', catalogue }).keys;
}

/** Any file the importers understand: .env, one key per line, pasted lists, JSON. */
export function keysFromFile(
  file: string,
  catalogue: ProviderCatalogue,
  defaultProvider?: string,
): { keys: KeyInput[]; skipped: string[]; duplicates: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ProxyError(
      'invalid_config',
      400,
      `Cannot read keys file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
    );
  }
  const r = importKeys(text, { fileName: basename(file), catalogue, defaultProvider });
  return { keys: r.keys, skipped: r.skipped.map((s) => `${file}:${s.line}: ${s.reason}`), duplicates: r.duplicates };
}

/**
 * A rejected provider value as an error shows it: an id-like word as is; anything else (a key
 * pasted into the wrong field, most likely) is not echoed (issue 9: a config error never repeats
 * the rejected value).
 */
function shownId(value: string): string {
  return /^[A-Za-z0-9][\w.-]{0,39}$/.test(value) && !/^(sk|gsk|xai|AIza|key)[-_]/i.test(value)
    ? `"${value}"`
    : `"${maskKey(value)}" (not shown whole: it looks like a key, not a provider id)`;
}
