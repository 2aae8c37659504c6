import type { LmMessage, LmPart } from './messages';

/** What an image costs in most vision models' accounting (a 1024×1024 tile set), roughly. */
const IMAGE_TOKENS = 765;
/** Role markers and separators around each message. */
const MESSAGE_OVERHEAD = 4;

/**
 * A local estimate of a text's tokens, with no tokenizer and no network: BPE tokenizers spend
 * about one token per 4 characters of English or code, and about one per character of CJK
 * scripts. It errs high rather than low, so the editor trims context before the provider refuses.
 */
export function estimateTokens(text: string): number {
  let wide = 0;
  let other = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    // CJK ideographs, kana, hangul, and everything past the BMP (emoji): a token or more each.
    if ((c >= 0x2e80 && c <= 0xd7ff) || (c >= 0xf900 && c <= 0xfaff) || c > 0xffff) wide++;
    else other++;
  }
  return wide + Math.ceil(other / 3.5);
}

function partTokens(p: LmPart): number {
  switch (p.kind) {
    case 'text':
      return estimateTokens(p.text);
    case 'data':
      return p.mimeType.startsWith('image/') ? IMAGE_TOKENS : estimateTokens(Buffer.from(p.data).toString('utf8'));
    case 'toolCall':
      return estimateTokens(p.name) + estimateTokens(JSON.stringify(p.input ?? {})) + MESSAGE_OVERHEAD;
    case 'toolResult':
      return p.content.reduce((n, c) => n + partTokens(c), MESSAGE_OVERHEAD);
  }
}

/** A message's estimate: its parts plus the few tokens every message costs. */
export function estimateMessageTokens(m: LmMessage): number {
  return m.parts.reduce((n, p) => n + partTokens(p), MESSAGE_OVERHEAD);
}
