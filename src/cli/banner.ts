/** What the start banner reports. */
export interface BannerFacts {
  endpoint: string;
  tokenWhere: string;
  keyCount: number;
  providers: string[];
  passthrough: boolean;
}

/** The lines `keyrelay serve` prints once it listens: where, with which token, how to point tools. */
export function bannerLines(b: BannerFacts): string[] {
  const { endpoint } = b;
  const lines = [
    `KeyRelay listening on ${endpoint}`,
    `Access token: ${b.tokenWhere === '--token' || b.tokenWhere === 'KEYRELAY_TOKEN' ? `from ${b.tokenWhere}` : `in ${b.tokenWhere}`}`,
    b.keyCount === 0
      ? `No keys configured: running in fallback mode (${b.passthrough ? "clients' own keys are forwarded" : 'requests get 503 until keys are added'}). Add keys with --keys-file, --config or OPENAI_API_KEY_1..N.`
      : `${b.keyCount} key(s) for ${b.providers.join(', ')}`,
    'Point your tools at it (the API key is the access token):',
    `  Continue     config.yaml: provider: openai, apiBase: ${endpoint}/v1, apiKey: <token>`,
    `  Cline / Roo  "OpenAI Compatible", Base URL ${endpoint}/v1, API key <token>`,
    `  Claude Code  ANTHROPIC_BASE_URL=${endpoint} ANTHROPIC_AUTH_TOKEN=<token> claude`,
    `  Codex        ~/.codex/config.toml [model_providers.keyrelay] base_url = "${endpoint}/v1", wire_api = "responses"`,
    `  SDKs         OPENAI_BASE_URL=${endpoint}/v1  ANTHROPIC_BASE_URL=${endpoint}`,
  ];
  return lines;
}
