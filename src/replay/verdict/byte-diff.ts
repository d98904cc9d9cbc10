const CONTEXT = 24;

function excerpt(buf: Buffer, at: number): string {
  const text = buf.toString('latin1', at, Math.min(buf.length, at + CONTEXT));
  return JSON.stringify(text) + (buf.length > at + CONTEXT ? '…' : '');
}

/** A one-line summary of where two byte strings part: offset, and what each side has there. */
export function byteDiff(before: Buffer, after: Buffer): string | undefined {
  if (before.equals(after)) return undefined;
  let at = 0;
  while (at < before.length && at < after.length && before[at] === after[at]) at++;
  const lengths = before.length === after.length ? '' : ` (length ${before.length} → ${after.length})`;
  return `differs at byte ${at}: ${excerpt(before, at)} → ${excerpt(after, at)}${lengths}`;
}
