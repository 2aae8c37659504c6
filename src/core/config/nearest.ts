/**
 * The known name closest to `name` (case-insensitive edit distance, at most a third of its length
 * wrong), for "did you mean baseUrl?" in messages about unknown fields.
 */
export function nearest(name: string, known: readonly string[]): string | undefined {
  const a = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(a.length / 3)) + 1;
  for (const k of known) {
    const d = distance(a, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

/** "Unknown field "x"" plus the nearest known name, or the list of known names. */
export function unknownField(name: string, known: readonly string[]): string {
  const near = nearest(name, known);
  return `unknown field "${name}"${near ? ` (did you mean "${near}"?)` : `; known fields: ${known.join(', ')}`}`;
}

/** Edit distance where swapping two neighbours counts as one edit (`prot` → `port`). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
