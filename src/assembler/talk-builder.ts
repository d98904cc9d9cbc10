import type { Address } from '../generated/koala/v1/agent.pb.js';
import type { Talk, Transport } from '../generated/koala/v1/session.pb.js';
import { ByteChunks } from './byte-chunks.js';

/** One outbound talk while it is being recorded. */
export class TalkBuilder {
  readonly request: ByteChunks;
  readonly response: ByteChunks;
  requestNs = 0n;
  responseNs = 0n;
  oneWay = false;
  /** A 0-byte read (EOF) ended the response. */
  eof = false;
  /** No more bytes will be added (a later send, a boundary, the connection closed). */
  finished = false;
  private built: Talk | undefined;

  constructor(
    readonly connId: bigint,
    readonly transport: Transport,
    readonly peer: Address | undefined,
    readonly local: Address | undefined,
    /** The virtual thread that did the first byte of I/O: its session owns the talk. */
    readonly owner: bigint,
    readonly tid: bigint,
    cap: number,
  ) {
    this.request = new ByteChunks(cap);
    this.response = new ByteChunks(cap);
  }

  /** Waiting for a response: something was asked and nothing answered, nor will be. */
  get awaitingResponse(): boolean {
    return this.request.total > 0 && this.response.total === 0 && !this.eof && !this.oneWay && !this.finished;
  }

  get truncated(): number {
    return this.request.truncated + this.response.truncated;
  }

  toTalk(index: number): Talk {
    const cached = this.built;
    if (cached && cached.index === index) return cached;
    const talk: Talk = {
      index,
      connId: this.connId,
      transport: this.transport,
      peer: this.peer,
      local: this.local,
      request: this.request.toBuffer(),
      response: this.response.toBuffer(),
      requestNs: this.requestNs,
      responseNs: this.responseNs,
      oneWay: this.oneWay,
      requestLen: BigInt(this.request.total),
      responseLen: BigInt(this.response.total),
      tid: this.tid,
    };
    // A finished talk never changes, so sessions sharing it (preludes) share one object.
    if (this.finished) this.built = talk;
    return talk;
  }
}
