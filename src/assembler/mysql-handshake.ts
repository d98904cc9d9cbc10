/** A MySQL server greeting: 3-byte little-endian length, sequence 0, protocol version 10. */
export function isMysqlGreeting(b: Buffer): boolean {
  if (b.length < 5) return false;
  const len = b[0]! | (b[1]! << 8) | (b[2]! << 16);
  return len > 0 && b[3] === 0 && b[4] === 0x0a;
}

/**
 * Follows the server's side of a MySQL connection phase, packet by packet, to find where the
 * handshake ends: the first OK (0x00) or ERR (0xff) packet after the greeting. Auth switch (0xfe)
 * and more-data (0x01) packets continue it. Bytes are fed in whatever pieces reads delivered.
 */
export class MysqlHandshake {
  private header = Buffer.alloc(4);
  private headerHave = 0;
  /** Payload bytes of the current packet still to skip (after its first byte was looked at). */
  private skip = 0;
  private needFirstByte = false;
  private packets = 0;
  done = false;

  feed(b: Buffer): void {
    let i = 0;
    while (i < b.length && !this.done) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, b.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      if (this.needFirstByte) {
        this.needFirstByte = false;
        const first = b[i]!;
        this.skip = this.payloadLen() - 1;
        i++;
        // Packet 0 is the greeting; the first OK or ERR after it ends the auth phase.
        if (this.packets > 0 && (first === 0x00 || first === 0xff)) this.done = true;
        this.packets++;
        continue;
      }
      this.header[this.headerHave++] = b[i++]!;
      if (this.headerHave === 4) {
        this.headerHave = 0;
        if (this.payloadLen() === 0) this.packets++;
        else this.needFirstByte = true;
      }
    }
  }

  private payloadLen(): number {
    return this.header[0]! | (this.header[1]! << 8) | (this.header[2]! << 16);
  }
}
