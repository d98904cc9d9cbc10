import { chunkMatch } from './chunk-matcher.js';
import { type MatchCandidate, type MatchDecision, type MatchStrategy, type ScoredCandidate, topCandidates } from './match-types.js';
import { DEFAULT_SIM_THRESHOLD, simMatch } from './sim-matcher.js';

export interface MatchOptions {
  strategy: MatchStrategy;
  /** The `sim` threshold (KOALA_REPLAYING_MATCH_THRESHOLD); `chunk` keeps the reference's own. */
  simThreshold: number;
}

export const DEFAULT_MATCH_OPTIONS: MatchOptions = { strategy: 'chunk', simThreshold: DEFAULT_SIM_THRESHOLD };

/** A candidate with where it came from, so one list can span sessions and preludes. */
export interface SourcedCandidate extends MatchCandidate {
  sessionId: string | undefined;
  source: 'talk' | 'prelude';
}

/**
 * Picks one candidate for `request`: the earliest byte-identical one first, then the configured
 * strategy. Candidates are unconsumed and already filtered to the original destination; the
 * caller consumes the winner. `lastIndex` is this connection's last matched talk index (−1 fresh).
 */
export function matchTalk(
  request: Buffer,
  candidates: readonly SourcedCandidate[],
  lastIndex: number,
  opts: MatchOptions = DEFAULT_MATCH_OPTIONS,
): MatchDecision {
  const exact = candidates.find((c) => c.request.equals(request));
  if (exact !== undefined) {
    return {
      matched: true,
      sessionId: exact.sessionId,
      talkIndex: exact.talkIndex,
      source: exact.source,
      strategy: 'exact',
      score: 1,
      threshold: undefined,
      top: [describe(exact, 1)],
      explanation: `${exact.source} #${exact.talkIndex} is byte-identical (earliest unconsumed)`,
    };
  }
  if (candidates.length === 0) return noMatch(opts.strategy, undefined, [], 'no unconsumed recorded talk to this destination');
  // Strategies see positions, so candidates from several sessions cannot collide on talk index.
  const positional = candidates.map((c, i) => ({ talkIndex: i, request: c.request }));
  const lastPos = lastIndex < 0 ? -1 : lastPositionBefore(candidates, lastIndex);
  const result = opts.strategy === 'sim'
    ? simMatch(request, positional, lastPos, opts.simThreshold)
    : chunkMatch(request, positional, lastPos);
  const scored = result.scored.map((s) => describe(candidates[s.talkIndex] as SourcedCandidate, s.score));
  const top = topCandidates(scored);
  const chosen = result.chosen === undefined ? undefined : candidates[result.chosen.talkIndex];
  if (chosen === undefined || result.chosen === undefined) return noMatch(opts.strategy, result.threshold, top, result.note);
  return {
    matched: true,
    sessionId: chosen.sessionId,
    talkIndex: chosen.talkIndex,
    source: chosen.source,
    strategy: opts.strategy,
    score: result.chosen.score,
    threshold: result.threshold,
    top,
    explanation: `${opts.strategy}: ${chosen.source} #${chosen.talkIndex} scored ${result.chosen.score.toFixed(3)} (${result.note})`,
  };
}

/** The position of the last candidate whose index is ≤ lastIndex: "after it" means forward. */
function lastPositionBefore(candidates: readonly SourcedCandidate[], lastIndex: number): number {
  let pos = -1;
  candidates.forEach((c, i) => {
    if (c.source === 'talk' && c.talkIndex <= lastIndex) pos = i;
  });
  return pos;
}

function describe(c: SourcedCandidate, score: number): ScoredCandidate {
  const d: ScoredCandidate = { talkIndex: c.talkIndex, score, source: c.source };
  if (c.sessionId !== undefined) d.sessionId = c.sessionId;
  return d;
}

export function noMatch(strategy: MatchStrategy, threshold: number | undefined, top: ScoredCandidate[], why: string): MatchDecision {
  return {
    matched: false,
    sessionId: undefined,
    talkIndex: undefined,
    source: undefined,
    strategy: 'none',
    score: top[0]?.score ?? 0,
    threshold,
    top,
    explanation: `no match (${strategy}): ${why}`,
  };
}
