import { existsSync, readFileSync } from 'node:fs';
import { importKeys } from '../core/config/importers';
import type { ImportedKey } from '../core/config/importers';
import type { ProviderCatalogue } from '../core/config/providers';
import { writeFileAtomic } from '../core/config/stateFile';
import { ProxyError } from '../core/errors';
import type { KeyPool } from '../core/pool/keyPool';
import type { KeyManager } from '../core/proxy/ownEndpoints';
import type { Clock, KeyRecord, Logger, PoolKey } from '../core/types';
import { toPoolKeys } from './keySources';

/** One key as the keys file stores it: the CLI config's key entry. */
interface FileEntry {
  provider: string;
  key: string;
  label?: string;
  models?: string[];
  weight?: number;
  baseUrl?: string;
  account?: string;
}

const PATCHABLE = ['label', 'models', 'weight', 'account'] as const;

/**
 * Keys added, removed or changed over HTTP (`/keyrelay/keys`), in force at once and saved to the
 * keys file the user named (`--keys-file`), written atomically with mode 0600 as
 * `{ "keys": [ { provider, key, label, models, weight, baseUrl, account } ] }`, so a restart keeps
 * them. A file in another format (.env, a list) is never rewritten: the caller is told to name a
 * new one. Keys from the environment or the config file are read-only here.
 */
export class KeysFileManager implements KeyManager {
  constructor(
    private readonly file: string | undefined,
    private readonly pool: KeyPool,
    private readonly catalogue: ProviderCatalogue,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  add(body: unknown): KeyRecord[] {
    const entries = this.entries();
    const list = Array.isArray(body) ? body : [body];
    const found = importKeys(JSON.stringify({ keys: list }), { fileName: 'keys.json', catalogue: this.catalogue });
    if (found.skipped.length > 0 || found.keys.length !== list.length) {
      const why = found.skipped.map((s) => s.reason).join('; ') || 'an entry repeats another';
      throw new ProxyError('invalid_config', 400, `No key was added: ${why}.`);
    }
    const keys = this.poolKeys(found.keys);
    const taken = keys.find((k) => this.pool.get(k.id));
    if (taken) throw new ProxyError('invalid_config', 409, `No key was added: ${taken.masked} is already in KeyRelay.`);
    // Labels are saved as shown, so a restart numbers nothing differently.
    this.save([...entries, ...found.keys.map((k, i) => toEntry({ ...k, label: keys[i].label }))]);
    for (const k of keys) this.pool.upsert(k);
    this.log.info(`Added ${keys.length} key(s) over HTTP: ${keys.map((k) => `${k.label} (${k.masked})`).join(', ')}.`);
    return keys.map(plain);
  }

  remove(id: string): KeyRecord {
    const { key, entries, index } = this.find(id);
    this.save(entries.filter((_, i) => i !== index));
    this.pool.remove(id);
    this.log.info(`Removed key ${key.label} (${key.masked}) over HTTP.`);
    return plain(key);
  }

  update(id: string, patch: unknown): KeyRecord {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
      throw new ProxyError('invalid_config', 400, 'Send a JSON object with any of: label, models, weight, account.');
    }
    const p = patch as Record<string, unknown>;
    const unknown = Object.keys(p).filter((f) => !(PATCHABLE as readonly string[]).includes(f));
    if (unknown.length) {
      throw new ProxyError(
        'invalid_config',
        400,
        `Cannot change ${unknown.map((f) => `"${f}"`).join(', ')}: only ${PATCHABLE.join(', ')} (remove and add the key to change the rest).`,
      );
    }
    const { key, entries, index } = this.find(id);
    const next = { ...entries[index], ...p } as FileEntry;
    for (const f of PATCHABLE) if (next[f] === null) delete next[f];
    const [checked] = this.poolKeys(this.checked([next]));
    const updated: PoolKey = { ...checked, id: key.id, addedAt: key.addedAt };
    entries[index] = next;
    this.save(entries);
    this.pool.upsert(updated);
    return plain(updated);
  }

  private checked(entries: FileEntry[]): ImportedKey[] {
    const found = importKeys(JSON.stringify({ keys: entries }), { fileName: 'keys.json', catalogue: this.catalogue });
    if (found.skipped.length) throw new ProxyError('invalid_config', 400, `Not changed: ${found.skipped[0].reason}.`);
    return found.keys;
  }

  private poolKeys(keys: ImportedKey[]): PoolKey[] {
    const n = this.pool.list().length;
    return toPoolKeys(keys, this.catalogue, this.clock.now()).keys.map((k, i) =>
      k.label === keys[i].label ? k : { ...k, label: `${k.providerId}-${n + i + 1}` },
    );
  }

  /** The key and its entry in the keys file; a key from elsewhere cannot be changed here. */
  private find(id: string): { key: PoolKey; entries: FileEntry[]; index: number } {
    const key = this.pool.get(id);
    if (!key) throw new ProxyError('not_found', 404, `No key with id "${id}". "keyrelay keys list" shows the ids.`);
    const entries = this.entries();
    const index = entries.findIndex((e) => e.key === key.secret);
    if (index < 0) {
      throw new ProxyError(
        'invalid_config',
        409,
        `Key ${key.label} (${key.masked}) comes from the environment or the config file, not the keys file: change it there.`,
      );
    }
    return { key, entries, index };
  }

  private entries(): FileEntry[] {
    const file = this.writable();
    if (!existsSync(file)) return [];
    const text = readFileSync(file, 'utf8');
    let doc: unknown;
    try {
      doc = text.trim() === '' ? { keys: [] } : JSON.parse(text);
    } catch {
      doc = undefined;
    }
    const keys = (doc as { keys?: unknown } | undefined)?.keys;
    if (!Array.isArray(keys)) {
      throw new ProxyError(
        'invalid_config',
        409,
        `The keys file ${file} is not a KeyRelay JSON keys file ({"keys": [...]}); KeyRelay does not rewrite it. Start with --keys-file naming a new file to manage keys over HTTP.`,
      );
    }
    return keys as FileEntry[];
  }

  private save(entries: FileEntry[]): void {
    writeFileAtomic(this.writable(), `${JSON.stringify({ keys: entries }, null, 2)}\n`);
  }

  private writable(): string {
    if (this.file) return this.file;
    throw new ProxyError(
      'invalid_config',
      409,
      'This KeyRelay has no keys file to save keys to. Start it with --keys-file FILE (a new file is created) to manage keys over HTTP.',
    );
  }
}

function toEntry(k: ImportedKey): FileEntry {
  const e: FileEntry = { provider: k.providerId, key: k.secret };
  if (k.label !== undefined) e.label = k.label;
  if (k.models) e.models = k.models;
  if (k.weight !== undefined) e.weight = k.weight;
  if (k.baseUrl !== undefined) e.baseUrl = k.baseUrl;
  if (k.account !== undefined) e.account = k.account;
  return e;
}

/** The record without the secret. */
function plain(k: PoolKey): KeyRecord {
  const { secret: _secret, credentialCommand: _cmd, ...rec } = k;
  return rec;
}
