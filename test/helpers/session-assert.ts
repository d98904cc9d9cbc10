import { expect } from 'chai';
import { Transport, type Session, type Talk } from '../../src/index.js';
import { encodeResp } from './redis.js';

/** Sessions whose inbound request contains `needle`. */
export function sessionsWith(sessions: Session[], needle: string): Session[] {
  return sessions.filter((s) => s.inbound?.request.includes(needle));
}

/** The one session whose inbound request contains `needle` (fails on none or several). */
export function sessionWith(sessions: Session[], needle: string): Session {
  const found = sessionsWith(sessions, needle);
  expect(found, `sessions with ${JSON.stringify(needle)} in the inbound request`).to.have.lengthOf(1);
  return found[0]!;
}

export interface ExpectedTalk {
  port: number;
  request: Buffer | string;
  /** Exact response; omit to skip, '' for none. */
  response?: Buffer | string;
  oneWay?: boolean;
  transport?: Transport;
}

const bytes = (b: Buffer | string): Buffer => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b);

/** Compares bytes with a readable message (big payloads are summarised, not dumped). */
export function expectBytes(actual: Buffer | undefined, expected: Buffer | string, what: string): void {
  const e = bytes(expected);
  const a = actual ?? Buffer.alloc(0);
  if (a.equals(e)) return;
  const show = (b: Buffer): string => (b.length > 400 ? `<${b.length} bytes> ${JSON.stringify(b.toString('latin1', 0, 200))}…` : JSON.stringify(b.toString('latin1')));
  expect.fail(`${what}: expected ${show(e)} but got ${show(a)}`);
}

export function expectTalks(session: Session, expected: ExpectedTalk[], what = 'talks'): void {
  const summary = session.talks.map((t) => `${t.peer?.port}:${JSON.stringify(t.request.toString('latin1', 0, 60))}`);
  expect(session.talks.length, `${what}: number of talks (${summary.join(', ')})`).to.equal(expected.length);
  expected.forEach((e, i) => expectTalk(session.talks[i]!, e, `${what}[${i}]`));
}

export function expectTalk(t: Talk, e: ExpectedTalk, what: string): void {
  expect(t.peer?.port, `${what} peer port`).to.equal(e.port);
  expect(t.transport, `${what} transport`).to.equal(e.transport ?? Transport.TRANSPORT_TCP);
  expectBytes(t.request, e.request, `${what} request`);
  if (e.response !== undefined) expectBytes(t.response, e.response, `${what} response`);
  expect(t.oneWay, `${what} one_way`).to.equal(e.oneWay ?? false);
}

/** The inbound side holds exactly what the client sent and received. */
export function expectInbound(session: Session, sent: Buffer | string, received: Buffer | string, sutPort: number): void {
  expect(session.inbound, 'inbound').to.not.equal(undefined);
  expectBytes(session.inbound?.request, sent, 'inbound request');
  expectBytes(session.inbound?.response, received, 'inbound response');
  expect(session.inbound?.local?.port, 'inbound local port').to.equal(sutPort);
}

export function expectComplete(session: Session): void {
  const c = session.completeness;
  expect(
    { dropped: Number(c?.droppedEvents ?? 0n), truncated: Number(c?.truncatedBytes ?? 0n), gaps: Number(c?.seqGaps ?? 0n) },
    `completeness of session ${session.id} (notes: ${c?.notes.join('; ')})`,
  ).to.deep.equal({ dropped: 0, truncated: 0, gaps: 0 });
}

/** A RESP command as a client sends it (helpers/redis.ts encodes it). */
export function respCommand(...args: string[]): string {
  return encodeResp(args);
}
