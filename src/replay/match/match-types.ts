export type MatchStrategy = 'chunk' | 'sim';

export interface MatchCandidate {
  /** The talk's index in its session (or in its prelude). */
  talkIndex: number;
  request: Buffer;
}

export interface ScoredCandidate {
  talkIndex: number;
  score: number;
  /** Set when candidates come from several sessions (session-less mode) or from a prelude. */
  sessionId?: string;
  source?: 'talk' | 'prelude';
}

/** What a strategy concluded over one candidate list. */
export interface StrategyResult {
  chosen: ScoredCandidate | undefined;
  /** Every candidate's score, in candidate order. */
  scored: ScoredCandidate[];
  threshold: number;
  note: string;
}

/** One matching decision, kept whole so a report can say why. */
export interface MatchDecision {
  matched: boolean;
  /** The talk served: its session, its index there, and whether it was a prelude talk. */
  sessionId: string | undefined;
  talkIndex: number | undefined;
  source: 'talk' | 'prelude' | undefined;
  strategy: 'exact' | MatchStrategy | 'none';
  score: number;
  threshold: number | undefined;
  /** The three best candidates, best first. */
  top: ScoredCandidate[];
  /** A sentence a person can read. */
  explanation: string;
}

export function topCandidates(scored: readonly ScoredCandidate[], n = 3): ScoredCandidate[] {
  return [...scored]
    .map((c, i) => ({ c, i }))
    .sort((a, b) => b.c.score - a.c.score || a.i - b.i)
    .slice(0, n)
    .map((x) => x.c);
}
