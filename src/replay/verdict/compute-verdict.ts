import type { Session, Talk } from '../../generated/koala/v1/session.pb.js';
import { formatAddress } from '../../assembler/address-text.js';
import type { MatchDecision } from '../match/match-types.js';
import type { OutboundCall } from '../outbound/outbound-server.js';
import { diffMessages } from './message-diff.js';
import { DEFAULT_NOISE, type NoiseRules } from './noise-rules.js';
import { describeRequest, diffOutboundRequest } from './outbound-diff.js';

export interface OutboundComparison {
  /** The recorded talk matched (undefined: unmatched). */
  talkIndex: number | undefined;
  source: 'talk' | 'prelude' | undefined;
  destination: string;
  request: string;
  decision: MatchDecision;
  reaction: OutboundCall['reaction'];
  differences: string[];
}

export interface SessionVerdict {
  pass: boolean;
  /** Every reason the session failed, each naming the change. */
  reasons: string[];
  /** Things worth knowing that do not fail the session (e.g. the recording lost events). */
  warnings: string[];
  inboundDifferences: string[];
  outbound: OutboundComparison[];
  unusedTalks: Array<{ talkIndex: number; destination: string; request: string }>;
}

export interface VerdictInput {
  session: Session;
  /** The SUT's actual response, or undefined when the driver got none. */
  actualResponse: Buffer | undefined;
  /** Why there is no (complete) response: driver error or timeout. */
  inboundError?: string;
  calls: readonly OutboundCall[];
  unusedTalks: readonly Talk[];
  noise?: NoiseRules;
}

/** Compares one replay with its recording. */
export function computeVerdict(input: VerdictInput): SessionVerdict {
  const noise = input.noise ?? DEFAULT_NOISE;
  const reasons: string[] = [];
  const warnings: string[] = [];
  const recorded = input.session.inbound?.response ?? Buffer.alloc(0);
  let inboundDifferences: string[] = [];
  if (input.inboundError !== undefined) reasons.push(`inbound: ${input.inboundError}`);
  if (input.actualResponse !== undefined) {
    inboundDifferences = diffMessages(recorded, input.actualResponse, noise).map((d) => `response ${d}`);
    reasons.push(...inboundDifferences);
  }
  const outbound: OutboundComparison[] = input.calls.map((call) => {
    const destination = formatAddress(call.originalDst);
    const request = describeRequest(call.request);
    const differences = call.talk === undefined ? [] : diffOutboundRequest(call.talk.request, call.request, noise);
    const label = call.decision.source === 'prelude' ? `prelude #${call.decision.talkIndex ?? '?'}` : `outbound #${call.decision.talkIndex ?? '?'}`;
    if (!call.decision.matched) reasons.push(`unmatched outbound call to ${destination}: ${request}`);
    else for (const d of differences) reasons.push(`${label} to ${destination}: ${d}`);
    return { talkIndex: call.decision.talkIndex, source: call.decision.source, destination, request, decision: call.decision, reaction: call.reaction, differences };
  });
  const unusedTalks = input.unusedTalks.map((t) => ({ talkIndex: t.index, destination: formatAddress(t.peer), request: describeRequest(t.request) }));
  for (const u of unusedTalks) reasons.push(`recorded talk #${u.talkIndex} to ${u.destination} not called: ${u.request}`);
  const c = input.session.completeness;
  if (c !== undefined && (c.droppedEvents > 0n || c.truncatedBytes > 0n || c.seqGaps > 0n)) {
    warnings.push(`the recording is incomplete: ${c.droppedEvents} dropped events, ${c.truncatedBytes} truncated bytes, ${c.seqGaps} sequence gaps`);
  }
  return { pass: reasons.length === 0, reasons, warnings, inboundDifferences, outbound, unusedTalks };
}
