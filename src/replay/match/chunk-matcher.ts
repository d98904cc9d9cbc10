import type { MatchCandidate, ScoredCandidate, StrategyResult } from './match-types.js';

const CHUNK = 16;
const LONG_REQUEST = 256;
const MIN_READABLE_RUN = 8;
/** Forward search from the connection's last match must be this sure; a fresh search less so. */
export const CHUNK_FORWARD_THRESHOLD = 0.85;
export const CHUNK_FRESH_THRESHOLD = 0.1;
const EXPECT_CONTINUE = Buffer.from('Expect: 100-continue');

/**
 * Cuts a request into 16-byte chunks. A long request's first chunk is the start of its first
 * readable run longer than 8 bytes (usually the URL or the SQL), and the bytes before it are
 * dropped (reference §7.6 step 1).
 */
export function cutToChunks(req: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  let rest = req;
  if (req.length > LONG_REQUEST) {
    const run = firstReadableRun(req);
    if (run !== undefined) {
      const len = Math.min(run.length, CHUNK);
      chunks.push(req.subarray(run.start, run.start + len));
      rest = req.subarray(run.start + len);
    }
  }
  for (let i = 0; i < rest.length; i += CHUNK) chunks.push(rest.subarray(i, i + CHUNK));
  return chunks;
}

/** Readable = printable ASCII; multi-byte and invalid UTF-8 never are, so bytes suffice. */
function firstReadableRun(buf: Buffer): { start: number; length: number } | undefined {
  let start = -1;
  for (let i = 0; i <= buf.length; i++) {
    const c = buf[i];
    const readable = c !== undefined && c >= 0x20 && c <= 0x7e;
    if (readable && start < 0) start = i;
    if (!readable && start >= 0) {
      if (i - start > MIN_READABLE_RUN) return { start, length: i - start };
      start = -1;
    }
  }
  return undefined;
}

/**
 * The reference chunk scorer (§7.6), with its "last matched index" kept per connection:
 * `lastIndex` is the talk index this connection last matched (−1 on a fresh connection).
 * Candidates are in ascending talk-index order and already exclude consumed talks.
 */
export function chunkMatch(request: Buffer, candidates: readonly MatchCandidate[], lastIndex: number): StrategyResult {
  const first = chunkPass(request, candidates, lastIndex, lastIndex);
  if (first.chosen !== undefined || lastIndex < 0) return first;
  // The reference's wrapper: nothing ahead of the last match, so search everything again.
  return chunkPass(request, candidates, -1, lastIndex);
}

function chunkPass(request: Buffer, candidates: readonly MatchCandidate[], L: number, connLast: number): StrategyResult {
  const chunks = cutToChunks(request);
  const m = chunks.length;
  const hasExpect = request.includes(EXPECT_CONTINUE);
  const rest = candidates.map((c) => c.request);
  const score = candidates.map((c) => (c.request.includes(EXPECT_CONTINUE) !== hasExpect ? -Infinity : 0));
  let maxScore = 0;
  let maxIdx = 0;
  chunks.forEach((chunk, i) => {
    candidates.forEach((cand, j) => {
      const cur = rest[j];
      if (cand.talkIndex <= L || cur === undefined || cur.length < chunk.length) return;
      const pos = cur.indexOf(chunk);
      if (pos < 0) return;
      rest[j] = cur.subarray(pos);
      let add = 1;
      if (i === 0 && L === -1) add = m;
      else if (i === 0 && pos === 0) add = Math.floor(m / 2) <= 1 ? 2 : Math.floor(m / 2);
      score[j] = (score[j] ?? 0) + add;
      if ((score[j] ?? 0) > maxScore) {
        maxScore = score[j] ?? 0;
        maxIdx = j;
      }
    });
  });
  // Ties go to the earliest candidate after this connection's last match.
  const tie = candidates.findIndex((c, j) => score[j] === maxScore && c.talkIndex > connLast);
  if (tie >= 0) maxIdx = tie;
  const scored: ScoredCandidate[] = candidates.map((c, j) => ({ talkIndex: c.talkIndex, score: m === 0 ? 0 : Math.max(0, score[j] ?? 0) / m }));
  const threshold = L === -1 ? CHUNK_FRESH_THRESHOLD : CHUNK_FORWARD_THRESHOLD;
  const mark = m === 0 ? 0 : maxScore / m;
  const pick = candidates[maxIdx];
  if (maxScore <= 0 || mark < threshold || pick === undefined) {
    return { chosen: undefined, scored, threshold, note: maxScore <= 0 ? 'no chunk of the request occurs in any candidate' : `best mark ${mark.toFixed(3)} below ${threshold}` };
  }
  return { chosen: { talkIndex: pick.talkIndex, score: mark }, scored, threshold, note: L === -1 ? 'searched all candidates' : 'searched forward from the last match' };
}
