/** What the start banner reports. */
export interface BannerFacts {
  endpoint: string;
  /** The address actually bound (--host), when it is not the loopback the endpoint names. */
  boundHost?: string;
  tokenWhere: string;
  /** The command that prints the token in this setup (`keyrelay token`, with --data-dir when given); none for --token. */
  tokenCommand?: string;
  keyCount: number;
  providers: string[];
  passthrough: boolean;
}

/** Hosts that expose the proxy beyond this machine. */
export function isEveryInterface(host: string | undefined): boolean {
  return host === '0.0.0.0' || host === '::';
}

/** What a client must send while no provider has keys. */
function fallback(b: BannerFacts): string {
  if (!b.passthrough) return 'requests get 503 until keys are added';
  if (b.boundHost && !['127.0.0.1', 'localhost', '::1'].includes(b.boundHost))
    return "a client's own provider key is forwarded only with the access token beside it, in an x-keyrelay-token header";
  return 'clients send their own provider key as the API key instead of the token, and it is forwarded';
}

/** The lines `keyrelay serve` prints once it listens: where, with which token, how to point tools. */
export function bannerLines(b: BannerFacts): string[] {
  const { endpoint } = b;
  const fromEnv = b.tokenWhere === '--token' || b.tokenWhere === 'KEYRELAY_TOKEN';
  const t = b.tokenCommand ? `"$(${b.tokenCommand})"` : '<token>';
  const lines = [
    `KeyRelay listening on ${endpoint}`,
    ...(b.boundHost && isEveryInterface(b.boundHost)
      ? [
          `WARNING: bound to ${b.boundHost} (every network interface): anyone who can reach port ${endpoint.split(':').pop()} of this machine can try to use your keys. Use --host 127.0.0.1 unless you mean it.`,
        ]
      : []),
    `Access token: ${fromEnv ? `from ${b.tokenWhere}` : `in ${b.tokenWhere}`}${b.tokenCommand ? `; print it with: ${b.tokenCommand}` : ''}`,
    b.keyCount === 0
      ? `No keys configured: running in fallback mode (${fallback(b)}). Add keys with --keys-file, --config or OPENAI_API_KEY_1..N.`
      : `${b.keyCount} key(s) for ${b.providers.join(', ')}`,
    'Point your tools at it (the API key is the access token):',
    `  Continue     config.yaml: provider: openai, apiBase: ${endpoint}/v1, apiKey: <token>`,
    `  Cline / Roo  "OpenAI Compatible", Base URL ${endpoint}/v1, API key <token>`,
    `  Claude Code  ANTHROPIC_BASE_URL=${endpoint} ANTHROPIC_AUTH_TOKEN=${t} claude`,
    `  Codex        ~/.codex/config.toml [model_providers.keyrelay] base_url = "${endpoint}/v1", wire_api = "responses", env_key = "KEYRELAY_TOKEN"; then KEYRELAY_TOKEN=${t} codex`,
    `  Aider        aider --openai-api-base ${endpoint}/v1 --openai-api-key ${t} --model openai/<model>`,
    `  SDKs         OPENAI_BASE_URL=${endpoint}/v1 OPENAI_API_KEY=${t}  (Anthropic: ANTHROPIC_BASE_URL=${endpoint})`,
  ];
  return lines;
}
