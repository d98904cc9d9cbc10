/**
 * Bytes arriving in pieces (one per event), kept as a list and joined once when the session is
 * emitted: appending costs no copy. Bytes beyond `cap` are not kept but counted. Counts are
 * numbers (exact to 2^53 bytes): bigint arithmetic allocated on every event of the hot path, and
 * the session's bigint fields are made once, when it is emitted.
 */
export class ByteChunks {
  private chunks: Buffer[] = [];
  /** Bytes kept. */
  kept = 0;
  /** Bytes the agent saw (kept + truncated by the agent or by the cap). */
  total = 0;

  constructor(private readonly cap: number) {}

  /** `claimedLen` is the agent's untruncated length (payload_len); smaller values are ignored. */
  push(bytes: Buffer, claimedLen: bigint): void {
    const claimed = Number(claimedLen);
    this.total += claimed > bytes.length ? claimed : bytes.length;
    const room = this.cap - this.kept;
    if (room <= 0 || bytes.length === 0) return;
    const piece = bytes.length <= room ? bytes : bytes.subarray(0, room);
    this.chunks.push(piece);
    this.kept += piece.length;
  }

  get truncated(): number {
    return this.total - this.kept;
  }

  toBuffer(): Buffer {
    if (this.chunks.length === 1) return this.chunks[0]!;
    const joined = Buffer.concat(this.chunks, this.kept);
    // Later reads (a prelude copied into several sessions) reuse the joined buffer.
    this.chunks = [joined];
    return joined;
  }
}
