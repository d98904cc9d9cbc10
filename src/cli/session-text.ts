/**
 * Readable renderings of sessions for `koala sessions list|show`: one summary line, or a full
 * dump where bytes are shown as text when printable and as a hex dump otherwise.
 */
import { formatAddress } from '../assembler/address-text.js';
import { SessionEndReason, Transport, type Session, type Talk } from '../generated/koala/v1/session.pb.js';

function isoFromNs(ns: bigint): string {
  return ns === 0n ? '-' : new Date(Number(ns / 1_000_000n)).toISOString();
}

export function endReasonText(r: SessionEndReason): string {
  const name = SessionEndReason[r];
  return name === undefined ? String(r) : name.replace(/^SESSION_END_REASON_/, '');
}

function transportText(t: Transport): string {
  return (Transport[t] ?? String(t)).replace(/^TRANSPORT_/, '').toLowerCase();
}

/** First line of a payload, quoted, shortened; `-` when empty. */
export function firstLine(bytes: Buffer | undefined, max = 60): string {
  if (!bytes || bytes.length === 0) return '-';
  const end = bytes.indexOf(0x0a);
  let text = bytes.subarray(0, end < 0 ? Math.min(bytes.length, max * 4) : end).toString('latin1').replace(/\r$/, '');
  text = text.replace(/[^\x20-\x7e]/g, '.');
  if (text.length > max) text = `${text.slice(0, max - 1)}…`;
  return JSON.stringify(text);
}

export function completenessText(s: Session): string {
  const c = s.completeness;
  const flags: string[] = [];
  if (c && c.droppedEvents > 0n) flags.push(`dropped=${c.droppedEvents}`);
  if (c && c.truncatedBytes > 0n) flags.push(`truncated=${c.truncatedBytes}B`);
  if (c && c.seqGaps > 0n) flags.push(`gaps=${c.seqGaps}`);
  if (c && c.notes.length > 0) flags.push(`notes=${c.notes.length}`);
  return flags.length === 0 ? 'complete' : flags.join(',');
}

export function sessionSummary(s: Session): string {
  return [
    s.id,
    s.sut || '-',
    isoFromNs(s.startedNs),
    endReasonText(s.endReason),
    firstLine(s.inbound?.request),
    firstLine(s.inbound?.response),
    `talks=${s.talks.length}`,
    completenessText(s),
  ].join('  ');
}

function printable(b: Buffer): boolean {
  const text = b.toString('utf8');
  return !text.includes('\ufffd') && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text);
}

export function hexDump(b: Buffer, indent: string): string {
  const lines: string[] = [];
  for (let off = 0; off < b.length; off += 16) {
    const row = b.subarray(off, off + 16);
    const hex = [...row].map((x) => x.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : '.')).join('');
    lines.push(`${indent}${off.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  |${ascii}|`);
  }
  return lines.join('\n');
}

/** A payload block: its length (and the untruncated length when cut), then text or hex. */
export function bytesBlock(label: string, b: Buffer | undefined, fullLen: bigint, indent: string): string {
  const buf = b ?? Buffer.alloc(0);
  const cut = fullLen > BigInt(buf.length) ? ` (truncated from ${fullLen})` : '';
  const head = `${indent}${label}: ${buf.length} bytes${cut}`;
  if (buf.length === 0) return head;
  const body = printable(buf)
    ? buf.toString('utf8').replace(/\r\n/g, '\n').replace(/\n$/, '').split('\n').map((l) => `${indent}  | ${l}`).join('\n')
    : hexDump(buf, `${indent}  `);
  return `${head}\n${body}`;
}

function talkText(t: Talk, indent: string): string {
  const flags = [transportText(t.transport), `conn=${t.connId}`, t.oneWay ? 'one-way' : ''].filter((x) => x !== '').join(' ');
  return [
    `${indent}talk #${t.index} → ${formatAddress(t.peer)} (${flags}) at ${isoFromNs(t.requestNs)}`,
    bytesBlock('request', t.request, t.requestLen, `${indent}  `),
    bytesBlock('response', t.response, t.responseLen, `${indent}  `),
  ].join('\n');
}

export function sessionDetail(s: Session): string {
  const out: string[] = [
    `session ${s.id}`,
    `  sut: ${s.sut || '-'}  pid: ${s.pid}  host: ${s.hostname || '-'}  vtid: ${s.vtid}`,
    `  started: ${isoFromNs(s.startedNs)}  ended: ${isoFromNs(s.endedNs)}  end reason: ${endReasonText(s.endReason)}`,
    `  completeness: ${completenessText(s)}`,
  ];
  for (const note of s.completeness?.notes ?? []) out.push(`    note: ${note}`);
  if (s.replayOf) out.push(`  replay of: ${s.replayOf}`);
  const i = s.inbound;
  if (i) {
    out.push(`  inbound from ${formatAddress(i.peer)} to ${formatAddress(i.local)} (conn=${i.connId})`);
    out.push(bytesBlock('request', i.request, i.requestLen, '    '));
    out.push(bytesBlock('response', i.response, i.responseLen, '    '));
  } else {
    out.push('  inbound: none');
  }
  for (const p of s.preludes) {
    out.push(`  prelude of conn=${p.connId} → ${formatAddress(p.peer)}${p.serverFirst ? ' (server first)' : ''}`);
    for (const t of p.talks) out.push(talkText(t, '    '));
  }
  out.push(`  talks: ${s.talks.length}`);
  for (const t of s.talks) out.push(talkText(t, '    '));
  return `${out.join('\n')}\n`;
}
