/**
 * Splits the command line handed over by a completion script into words the way the shell would (quotes,
 * backslashes), and says which part of the current word the shell will replace.
 */

/** Words of `line`; the last one is the word at the cursor ("" after a space). */
export function splitLine(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  words.push(cur);
  return words;
}

/**
 * bash replaces only the part of the word after its last COMP_WORDBREAKS character (":" and "=" by default):
 * the candidates must leave out what comes before (as bash-completion's __ltrim_colon_completions does).
 */
export function trimForBash(cands: string[], cur: string, wordbreaks: string): string[] {
  let cut = -1;
  for (let i = 0; i < cur.length; i++) if (wordbreaks.includes(cur[i])) cut = i;
  if (cut < 0) return cands;
  const head = cur.slice(0, cut + 1);
  return cands.filter((c) => c.startsWith(head)).map((c) => c.slice(head.length));
}
