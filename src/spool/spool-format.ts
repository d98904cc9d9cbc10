/**
 * The spool: what a recording gateway received from its agents, kept as it came, to be assembled
 * into sessions later (`koala assemble`). It holds exactly the stream an assembly thread is fed
 * (hellos, undecoded batches, disconnects, ticks, each stamped with the gateway's clock when it
 * arrived), so assembling a spool gives the sessions assembling live would have.
 *
 * A file is MAGIC, then records: a 20-byte little-endian header (kind u8, three zero bytes, link
 * u32, at f64 in ms since the epoch, payload length u32) and the payload. A spool that a rotation
 * split goes on in the next file of the same stem, which starts with MAGIC again. The last record
 * of a gateway that closed cleanly is END; a spool without one was cut short (a crash, a kill).
 */

export const SPOOL_MAGIC = Buffer.from('KOALA-SPOOL-1\n', 'latin1');
export const SPOOL_EXT = '.kspool';
export const RECORD_HEADER_BYTES = 20;

export const RecordKind = {
  /** Payload: the agent's AgentHello, protobuf-encoded. */
  Hello: 1,
  /** Payload: one AgentMessage{batch} exactly as the agent sent it. */
  Batch: 2,
  /** The agent's link ended. No payload. */
  Gone: 3,
  /** The gateway's periodic tick (sessions idle out on it). No payload. */
  Tick: 4,
  /** The gateway closed: open sessions end here (GATEWAY_SHUTDOWN). No payload. */
  End: 5,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

const KINDS = new Set<number>([RecordKind.Hello, RecordKind.Batch, RecordKind.Gone, RecordKind.Tick, RecordKind.End]);

function isRecordKind(k: number): k is RecordKind {
  return KINDS.has(k);
}

export interface RecordHeader {
  kind: RecordKind;
  link: number;
  at: number;
  length: number;
}

/** Writes a record header at `off` of `buf` (which must have RECORD_HEADER_BYTES there). */
export function writeRecordHeader(buf: Buffer, off: number, kind: RecordKind, link: number, at: number, length: number): void {
  buf.writeUInt32LE(kind, off);
  buf.writeUInt32LE(link >>> 0, off + 4);
  buf.writeDoubleLE(at, off + 8);
  buf.writeUInt32LE(length, off + 16);
}

/** The header at `off`, or what is wrong with it. */
export function readRecordHeader(buf: Buffer, off: number): RecordHeader | string {
  const word = buf.readUInt32LE(off);
  const kind = word & 0xff;
  if (word >>> 8 !== 0 || !isRecordKind(kind)) return `unknown record kind 0x${word.toString(16)}`;
  const at = buf.readDoubleLE(off + 8);
  if (!Number.isFinite(at)) return 'record time is not a number';
  return { kind, link: buf.readUInt32LE(off + 4), at, length: buf.readUInt32LE(off + 16) };
}
