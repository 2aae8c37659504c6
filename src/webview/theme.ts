/**
 * Colours from the VS Code theme (its CSS variables), so the charts read in light, dark and
 * high-contrast themes alike; read again whenever the theme changes (the body's class changes).
 */

/** One theme variable's value, or `fallback` when the theme does not define it. */
export function themeVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.body).getPropertyValue(name).trim();
  return v || fallback;
}

export interface Palette {
  fg: string;
  muted: string;
  grid: string;
  series: string[];
  ok: string;
  warn: string;
  error: string;
  info: string;
  /** High-contrast themes: thicker lines, no translucent fills. */
  contrast: boolean;
}

export function palette(): Palette {
  const contrast =
    document.body.classList.contains('vscode-high-contrast') ||
    document.body.classList.contains('vscode-high-contrast-light');
  const fg = themeVar('--vscode-editor-foreground', themeVar('--vscode-foreground', '#888'));
  const chart = (c: string, f: string) => themeVar(`--vscode-charts-${c}`, f);
  const series = [
    chart('blue', '#3794ff'),
    chart('orange', '#d18616'),
    chart('purple', '#b180d7'),
    chart('green', '#89d185'),
    chart('yellow', '#cca700'),
    chart('red', '#f14c4c'),
    fg,
  ];
  return {
    fg,
    muted: themeVar('--vscode-descriptionForeground', fg),
    grid: themeVar('--vscode-charts-lines', themeVar('--vscode-panel-border', '#8884')),
    series,
    ok: chart('green', '#89d185'),
    warn: chart('yellow', '#cca700'),
    error: chart('red', '#f14c4c'),
    info: chart('blue', '#3794ff'),
    contrast,
  };
}

/** `color` at `alpha` (for area fills); high contrast keeps solid colours. */
export function fade(color: string, alpha: number, p: Palette): string {
  if (p.contrast) return color;
  const hex =
    /^#([0-9a-f]{6})$/i.exec(color)?.[1] ?? (/^#([0-9a-f]{3})$/i.exec(color)?.[1] ?? '').replace(/./g, '$&$&');
  if (hex.length !== 6) return color;
  const a = Math.round(alpha * 255)
    .toString(16)
    .padStart(2, '0');
  return `#${hex}${a}`;
}

/** Calls `fn` when VS Code switches the theme (it changes the body's class and variables). */
export function onThemeChange(fn: () => void): void {
  new MutationObserver(fn).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}
