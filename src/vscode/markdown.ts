/** Text shown in a MarkdownString as it is: every Markdown character escaped. */
export const escapeMarkdown = (s: string): string => s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');

/** Text as a code span; Markdown escapes do not apply inside one, so only backticks need care. */
export const codeSpan = (s: string): string => `\`${s.replace(/`/g, "'")}\``;
