/**
 * Incremental decoder for the shim socket's framing: a 4-byte big-endian length, then that many
 * bytes of one protobuf message. Handles frames split across chunks and many frames per chunk;
 * a large frame is copied once into a buffer of its exact size, never re-concatenated.
 */
import { KoalaError } from '../errors.js';
import { AgentMessage, GatewayMessage } from '../generated/koala/v1/agent.pb.js';

export const FRAME_HEADER_BYTES = 4;

export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes of an unfinished frame held back (non-zero at EOF means a truncated frame). */
  get pendingBytes(): number {
    return this.headerFill + this.bodyFill;
  }

  /**
   * Feeds one chunk; returns the frame bodies it completed, in order. Throws
   * KOALA_ERR_FRAME_TOO_LARGE as soon as a header announces an oversized frame; the decoder is
   * unusable afterwards (the stream has lost its framing).
   */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    let off = 0;
    while (off < chunk.length) {
      if (this.body === undefined) {
        // Fast path: a whole header and body inside this chunk needs no copy.
        if (this.headerFill === 0 && chunk.length - off >= FRAME_HEADER_BYTES) {
          const len = chunk.readUInt32BE(off);
          this.checkLength(len);
          if (chunk.length - off - FRAME_HEADER_BYTES >= len) {
            frames.push(chunk.subarray(off + FRAME_HEADER_BYTES, off + FRAME_HEADER_BYTES + len));
            off += FRAME_HEADER_BYTES + len;
            continue;
          }
        }
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length - off);
        chunk.copy(this.header, this.headerFill, off, off + take);
        this.headerFill += take;
        off += take;
        if (this.headerFill < FRAME_HEADER_BYTES) break;
        const len = this.header.readUInt32BE(0);
        this.checkLength(len);
        this.body = Buffer.allocUnsafe(len);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, chunk.length - off);
      chunk.copy(this.body, this.bodyFill, off, off + take);
      this.bodyFill += take;
      off += take;
      if (this.bodyFill === this.body.length) {
        frames.push(this.body);
        this.body = undefined;
        this.bodyFill = 0;
        this.headerFill = 0;
      }
    }
    return frames;
  }

  private checkLength(len: number): void {
    if (len > this.maxFrameBytes) {
      throw new KoalaError(
        'KOALA_ERR_FRAME_TOO_LARGE',
        `frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes} bytes (KOALA_MAX_FRAME)`,
      );
    }
  }
}

/** Decodes one frame body as an AgentMessage; anything that is not a hello or batch is malformed. */
export function decodeAgentMessage(frame: Uint8Array): AgentMessage {
  let msg: AgentMessage;
  try {
    msg = AgentMessage.decode(frame);
  } catch (err) {
    throw new KoalaError('KOALA_ERR_FRAME_MALFORMED', `frame of ${frame.length} bytes does not decode as AgentMessage: ${(err as Error).message}`, { cause: err });
  }
  if (msg.body === undefined) {
    throw new KoalaError('KOALA_ERR_FRAME_MALFORMED', `frame of ${frame.length} bytes carries neither hello nor batch`);
  }
  return msg;
}

export function encodeFrame(body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

export function encodeAgentFrame(msg: AgentMessage): Buffer {
  return encodeFrame(AgentMessage.encode(msg).finish());
}

export function encodeGatewayFrame(msg: GatewayMessage): Buffer {
  return encodeFrame(GatewayMessage.encode(msg).finish());
}
