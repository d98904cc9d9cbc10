import type { Address } from '../../generated/koala/v1/agent.pb.js';
import { Transport, type Prelude, type Session, type Talk } from '../../generated/koala/v1/session.pb.js';
import type { Protocol } from '../framing/framer.js';
import { detectProtocol } from '../framing/detect-protocol.js';
import { formatAddress } from '../../assembler/address-text.js';
import { sameAddress } from '../format-address.js';
import { isConnectionSetup } from './connection-setup.js';
import type { MatchDecision } from './match-types.js';
import { DEFAULT_MATCH_OPTIONS, matchTalk, noMatch, type MatchOptions, type SourcedCandidate } from './talk-matcher.js';

interface SessionState {
  session: Session;
  consumed: Set<number>;
  /** How many connections replayed each prelude, so a second connection takes the next one. */
  preludeUse: Map<Prelude, number>;
}

/** What to send back for one outbound request. */
export interface ServeResult {
  decision: MatchDecision;
  /** The session the call is attributed to (the owner, or the matched talk's session). */
  sessionId: string | undefined;
  /** The recorded talk or prelude talk served. */
  talk: Talk | undefined;
  /** Bytes to write; undefined for one-way talks and no-match. */
  response: Buffer | undefined;
}

/**
 * Which recorded talks remain for whom. Holds the sessions being replayed (each talk served at
 * most once) and a pool of loaded sessions whose preludes answer connections made outside any
 * session (start-up pools). Synchronous: one decision at a time, so concurrent connections
 * never serve the same talk twice.
 */
export class ReplayLedger {
  private readonly active = new Map<string, SessionState>();
  private pool: Session[] = [];

  constructor(readonly options: MatchOptions = DEFAULT_MATCH_OPTIONS) {}

  addSession(session: Session): void {
    this.active.set(session.id, { session, consumed: new Set(), preludeUse: new Map() });
  }

  hasSession(id: string): boolean {
    return this.active.has(id);
  }

  /** Stops serving a session (ask unusedTalks first: afterwards it knows none). */
  removeSession(id: string): void {
    this.active.delete(id);
  }

  /** Sessions whose preludes and talks may answer session-less connections. */
  preload(sessions: readonly Session[]): void {
    this.pool = [...sessions];
  }

  /** Talks of session `id` never served; connection setup talks are not owed (connection-setup.ts). */
  unusedTalks(id: string): Talk[] {
    const st = this.active.get(id);
    return st === undefined ? [] : st.session.talks.filter((t) => !st.consumed.has(t.index) && !isConnectionSetup(t.request));
  }

  /**
   * A connection setup request (connection-setup.ts) no unserved talk answered: served from a
   * byte-identical recorded setup talk to the same destination, of the owner's session first, then
   * of any session being replayed or loaded; the talk is not consumed (every new connection of the
   * pool sends the same setup). Undefined when none is identical: a changed setup is reported.
   */
  serveSetup(dst: Address, request: Buffer, owner: string | undefined): ServeResult | undefined {
    if (!isConnectionSetup(request)) return undefined;
    const own = owner === undefined ? undefined : this.active.get(owner)?.session;
    const sessions = [own, ...[...this.active.values()].map((x) => x.session), ...this.pool].filter((s) => s !== undefined);
    for (const s of sessions) {
      const talk = s.talks.find((t) => t.transport !== Transport.TRANSPORT_UDP && sameAddress(t.peer, dst) && t.request.equals(request));
      if (talk === undefined) continue;
      const where = s === own ? 'this session' : `session ${s.id}`;
      const decision: MatchDecision = {
        matched: true, sessionId: s.id, talkIndex: talk.index, source: 'talk', strategy: 'exact', score: 1, threshold: undefined,
        top: [{ talkIndex: talk.index, score: 1, sessionId: s.id, source: 'talk' }],
        explanation: `connection setup: byte-identical to talk #${talk.index} of ${where} (the pool opened this connection in another session than when recorded)`,
      };
      return { decision, sessionId: owner ?? s.id, talk, response: talk.oneWay ? undefined : talk.response };
    }
    return undefined;
  }

  openConnection(originalDst: Address, sessionId: string | undefined): ConnectionLedger {
    return new ConnectionLedger(this, originalDst, this.choosePrelude(originalDst, sessionId));
  }

  /** A UDP datagram an agent reported: matched against the session's one-way datagrams, never sent. */
  matchDatagram(sessionId: string, dst: Address, payload: Buffer): ServeResult {
    const candidates = this.talkCandidates(dst, sessionId, Transport.TRANSPORT_UDP);
    return this.decide(payload, candidates, -1, sessionId);
  }

  /** @internal used by ConnectionLedger */
  talkCandidates(dst: Address, sessionId: string | undefined, transport?: Transport): SourcedCandidate[] {
    const states = sessionId === undefined ? [...this.active.values()] : [this.active.get(sessionId)].filter((s) => s !== undefined);
    const out: SourcedCandidate[] = [];
    for (const st of states) {
      for (const t of st.session.talks) {
        if (st.consumed.has(t.index) || !sameAddress(t.peer, dst)) continue;
        const udp = t.transport === Transport.TRANSPORT_UDP;
        if (transport === Transport.TRANSPORT_UDP ? !udp : udp) continue;
        out.push({ talkIndex: t.index, request: t.request, sessionId: st.session.id, source: 'talk' });
      }
    }
    return out;
  }

  /**
   * The length of an unserved one-way talk's request that `bytes` starts with (and is longer
   * than): a fire-and-forget write followed at once by the next request reaches the mock as one
   * read, and the recording says where the first one ended.
   */
  oneWayPrefix(dst: Address, sessionId: string | undefined, bytes: Buffer): number | undefined {
    const states = sessionId === undefined ? [...this.active.values()] : [this.active.get(sessionId)].filter((s) => s !== undefined);
    for (const st of states) {
      for (const t of st.session.talks) {
        if (!t.oneWay || st.consumed.has(t.index) || t.transport === Transport.TRANSPORT_UDP || !sameAddress(t.peer, dst)) continue;
        const n = t.request.length;
        if (n > 0 && n < bytes.length && bytes.subarray(0, n).equals(t.request)) return n;
      }
    }
    return undefined;
  }

  /** @internal */
  decide(request: Buffer, candidates: SourcedCandidate[], lastIndex: number, owner: string | undefined): ServeResult {
    const decision = matchTalk(request, candidates, lastIndex, this.options);
    if (!decision.matched || decision.sessionId === undefined || decision.talkIndex === undefined) {
      return { decision, sessionId: owner, talk: undefined, response: undefined };
    }
    const st = this.active.get(decision.sessionId);
    const talk = st?.session.talks.find((t) => t.index === decision.talkIndex);
    st?.consumed.add(decision.talkIndex);
    return { decision, sessionId: decision.sessionId, talk, response: talk === undefined || talk.oneWay ? undefined : talk.response };
  }

  private choosePrelude(dst: Address, sessionId: string | undefined): { prelude: Prelude; sessionId: string } | undefined {
    const st = sessionId === undefined ? undefined : this.active.get(sessionId);
    if (st !== undefined) {
      const own = st.session.preludes.filter((p) => sameAddress(p.peer, dst));
      if (own.length > 0) {
        const least = own.reduce((a, b) => ((st.preludeUse.get(b) ?? 0) < (st.preludeUse.get(a) ?? 0) ? b : a));
        st.preludeUse.set(least, (st.preludeUse.get(least) ?? 0) + 1);
        return { prelude: least, sessionId: st.session.id };
      }
    }
    // Session-less (or the session has none): a loaded session's prelude for this destination,
    // the longest one: a connection opened at start-up carries its warm-up talks (a ping before
    // any session) in its prelude, while a pool's later connections hold the handshake alone.
    let best: { prelude: Prelude; sessionId: string } | undefined;
    for (const s of [...this.pool, ...[...this.active.values()].map((x) => x.session)]) {
      for (const p of s.preludes) {
        if (sameAddress(p.peer, dst) && (best === undefined || p.talks.length > best.prelude.talks.length)) best = { prelude: p, sessionId: s.id };
      }
    }
    return best;
  }
}

/** Matching state of one redirected connection: its prelude cursor and its last matched talk. */
export class ConnectionLedger {
  readonly protocol: Protocol;
  private preludePos = 0;
  private readonly lastBySession = new Map<string, number>();

  constructor(
    private readonly ledger: ReplayLedger,
    readonly originalDst: Address,
    private readonly prelude: { prelude: Prelude; sessionId: string } | undefined,
  ) {
    const talks = prelude?.prelude.talks ?? [];
    const sample = talks.find((t) => t.request.length > 0)?.request ?? ledger.talkCandidates(originalDst, undefined)[0]?.request ?? Buffer.alloc(0);
    this.protocol = detectProtocol(sample, prelude?.prelude.serverFirst === true ? talks[0]?.response : undefined);
  }

  /** The recorded server greeting, sent as soon as the connection is accepted (no guessing). */
  greeting(): Buffer | undefined {
    const p = this.prelude?.prelude;
    if (p === undefined || !p.serverFirst || this.preludePos > 0) return undefined;
    const first = p.talks[0];
    if (first === undefined) return undefined;
    this.preludePos = 1;
    return first.response;
  }

  get preludeSessionId(): string | undefined {
    return this.prelude?.sessionId;
  }

  /** See ReplayLedger.oneWayPrefix. */
  oneWayPrefix(bytes: Buffer, owner: string | undefined): number | undefined {
    return this.ledger.oneWayPrefix(this.originalDst, owner, bytes);
  }

  /**
   * Serves one framed request. `owner` is the session that uses the connection now (refreshed by
   * the agent's reports); undefined means session-less: every session being replayed is searched.
   */
  serve(request: Buffer, owner: string | undefined): ServeResult {
    const p = this.prelude;
    if (p !== undefined && this.preludePos < p.prelude.talks.length) {
      const remaining = p.prelude.talks.slice(this.preludePos).map((t, i) => ({
        talkIndex: this.preludePos + i,
        request: t.request,
        sessionId: p.sessionId,
        source: 'prelude' as const,
      }));
      const r = matchTalk(request, remaining, -1, this.ledger.options);
      if (r.matched && r.talkIndex !== undefined) {
        const talk = p.prelude.talks[r.talkIndex];
        this.preludePos = r.talkIndex + 1;
        return { decision: r, sessionId: owner ?? p.sessionId, talk, response: talk === undefined || talk.oneWay ? undefined : talk.response };
      }
    }
    if (owner !== undefined && !this.ledger.hasSession(owner)) {
      return { decision: noMatch(this.ledger.options.strategy, undefined, [], `session ${owner} is not being replayed`), sessionId: owner, talk: undefined, response: undefined };
    }
    const candidates = this.ledger.talkCandidates(this.originalDst, owner);
    const last = owner === undefined ? -1 : this.lastBySession.get(owner) ?? -1;
    const decided = this.ledger.decide(request, candidates, last, owner);
    if (decided.decision.matched && decided.sessionId !== undefined && decided.decision.talkIndex !== undefined) {
      this.lastBySession.set(decided.sessionId, decided.decision.talkIndex);
    }
    const result = decided.decision.matched ? decided : this.ledger.serveSetup(this.originalDst, request, owner) ?? decided;
    if (!result.decision.matched) {
      result.decision.explanation += ` (destination ${formatAddress(this.originalDst)}${owner === undefined ? ', session-less' : ''})`;
    }
    return result;
  }
}
