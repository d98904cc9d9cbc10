import type { MatchCandidate, ScoredCandidate, StrategyResult } from './match-types.js';

export const DEFAULT_SIM_THRESHOLD = 0.7;
const WORD = /^[\p{L}\p{N}._]$/u;

/**
 * Token sets of recorded requests: every live request is scored against every candidate, and the
 * recorded bytes never change, so each is lexed once (dropped with its talk).
 */
const candidateTokens = new WeakMap<Uint8Array, Set<string>>();

function tokensOf(recorded: Buffer): Set<string> {
  let set = candidateTokens.get(recorded);
  if (set === undefined) {
    set = new Set(lexTokens(recorded));
    candidateTokens.set(recorded, set);
  }
  return set;
}

/**
 * The reference lexer (§7.7): words are runs of letters, numbers, `.` and `_`; every other byte
 * is a token of its own.
 */
export function lexTokens(buf: Buffer): string[] {
  const tokens: string[] = [];
  let pos = 0;
  let wordStart = -1;
  while (pos < buf.length) {
    const { len, word } = runeAt(buf, pos);
    if (word) {
      if (wordStart < 0) wordStart = pos;
    } else {
      if (wordStart >= 0) tokens.push(buf.toString('latin1', wordStart, pos));
      wordStart = -1;
      for (let i = 0; i < len; i++) tokens.push(buf.toString('latin1', pos + i, pos + i + 1));
    }
    pos += len;
  }
  if (wordStart >= 0) tokens.push(buf.toString('latin1', wordStart, pos));
  return tokens;
}

function runeAt(buf: Buffer, pos: number): { len: number; word: boolean } {
  const b0 = buf[pos] ?? 0;
  if (b0 < 0x80) return { len: 1, word: WORD.test(String.fromCharCode(b0)) };
  const len = b0 >= 0xf0 && b0 <= 0xf4 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc2 && b0 <= 0xdf ? 2 : 0;
  if (len === 0 || pos + len > buf.length) return { len: 1, word: false };
  let cp = b0 & (0xff >> (len + 1));
  for (let i = 1; i < len; i++) {
    const c = buf[pos + i] ?? 0;
    if ((c & 0xc0) !== 0x80) return { len: 1, word: false };
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp > 0x10ffff) return { len: 1, word: false };
  return { len, word: WORD.test(String.fromCodePoint(cp)) };
}

/** Cosine over token sets: |A∩B| / (√|A|·√|B|), 0 when either is empty. */
export function cosine(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let common = 0;
  for (const t of a) if (b.has(t)) common += 1;
  return common / (Math.sqrt(a.size) * Math.sqrt(b.size));
}

/**
 * The reference "sim" matcher: highest cosine wins; ties go to the first candidate after this
 * connection's last match. Unlike the reference, nothing advances on a rejected pick.
 */
export function simMatch(
  request: Buffer,
  candidates: readonly MatchCandidate[],
  lastIndex: number,
  threshold = DEFAULT_SIM_THRESHOLD,
): StrategyResult {
  const req = new Set(lexTokens(request));
  const scored: ScoredCandidate[] = candidates.map((c) => ({ talkIndex: c.talkIndex, score: cosine(req, tokensOf(c.request)) }));
  let best = -1;
  for (let j = 0; j < scored.length; j++) if (best < 0 || (scored[j]?.score ?? 0) > (scored[best]?.score ?? 0)) best = j;
  const max = scored[best]?.score ?? 0;
  const ahead = scored.findIndex((s) => s.score === max && s.talkIndex > lastIndex);
  if (ahead >= 0) best = ahead;
  const pick = scored[best];
  if (pick === undefined || max < threshold || max === 0) {
    return { chosen: undefined, scored, threshold, note: pick === undefined ? 'no candidates' : `best similarity ${max.toFixed(3)} below ${threshold}` };
  }
  return { chosen: pick, scored, threshold, note: `cosine similarity ${max.toFixed(3)} ≥ ${threshold}` };
}
