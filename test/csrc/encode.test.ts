// Golden vectors: the C encoder's bytes must equal ts-proto's for the same messages.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import {
  AddressFamily,
  AgentKind,
  AgentMessage,
  type Event,
  EventKind,
  Mode,
  SocketType,
} from '../../src/generated/koala/v1/agent.pb.js';
import { compile, repoRoot, TempDir } from './shim-harness.js';

function event(over: Partial<Event>): Event {
  return {
    seq: 0n, tsNs: 0n, tid: 0n, vtid: 0n, kind: EventKind.EVENT_KIND_UNSPECIFIED, connId: 0n, fd: 0,
    socketType: SocketType.SOCKET_TYPE_UNSPECIFIED, local: undefined, peer: undefined, originalDst: undefined,
    payload: Buffer.alloc(0), payloadLen: 0n, flags: 0n, droppedEvents: 0n, droppedBytes: 0n, parentTid: 0n,
    listenConnId: 0n, errno: 0, ...over,
  };
}

/** Index of the first differing hex digit, -1 if equal (keeps failures readable for big frames). */
function firstDiff(a: string | undefined, b: string): number {
  if (a === b) return -1;
  const s = a ?? '';
  for (let i = 0; i < Math.max(s.length, b.length); i++) if (s[i] !== b[i]) return i;
  return -1;
}

function frame(msg: AgentMessage): string {
  const body = AgentMessage.encode(msg).finish();
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]).toString('hex');
}

describe('csrc encode (golden vectors)', () => {
  const dir = new TempDir();
  let lines: string[] = [];

  before(() => {
    const bin = compile(dir, 'encode-golden', [join(repoRoot, 'csrc', 'encode.c')]);
    const r = spawnSync(bin, { encoding: 'utf8' });
    expect(r.status).to.equal(0);
    lines = r.stdout.trim().split('\n');
  });
  after(() => dir.remove());

  const accept = event({
    seq: 1n, tsNs: 1700000000000000001n, tid: 100n, vtid: -5n, kind: EventKind.EVENT_KIND_ACCEPT, connId: 2n, fd: 7,
    socketType: SocketType.SOCKET_TYPE_STREAM,
    local: { family: AddressFamily.ADDRESS_FAMILY_INET, ip: Buffer.from([127, 0, 0, 1]), port: 8080, path: '' },
    peer: { family: AddressFamily.ADDRESS_FAMILY_INET6, ip: Buffer.from([...new Array<number>(15).fill(0), 1]), port: 65535, path: '' },
    listenConnId: 1n, errno: -1,
  });
  const payload = Buffer.from(new Uint8Array(70000).map((_, i) => (i * 7) & 0xff));
  const send = event({
    seq: 300n, kind: EventKind.EVENT_KIND_SEND, connId: 1n << 40n, fd: -1,
    originalDst: { family: AddressFamily.ADDRESS_FAMILY_UNIX, ip: Buffer.alloc(0), port: 0, path: '@abstract' },
    payload, payloadLen: 1n << 33n, flags: 127127n, droppedEvents: 3n, droppedBytes: 4096n, parentTid: -1n,
  });
  const empty = event({ kind: EventKind.EVENT_KIND_RECV });

  it('encodes a hello frame byte for byte', () => {
    const hello = {
      protocolVersion: 1, kind: AgentKind.AGENT_KIND_C_SHIM, sutName: 'orders', pid: 4321, hostname: 'host-a',
      startNs: 1700000000123456789n, mode: Mode.MODE_RECORD_AND_REPLAY, agentVersion: '0.1.0', parentPid: 77,
    };
    expect(firstDiff(lines[0], frame({ body: { $case: 'hello', value: hello } }))).to.equal(-1);
  });

  it('encodes a one-event batch (negative ints, both address families) byte for byte', () => {
    expect(firstDiff(lines[1], frame({ body: { $case: 'batch', value: { events: [accept] } } }))).to.equal(-1);
  });

  it('encodes a batch with a large payload, 64-bit fields and an all-default event byte for byte', () => {
    const expected = frame({ body: { $case: 'batch', value: { events: [accept, send, empty] } } });
    expect(lines[2]?.length).to.equal(expected.length);
    expect(firstDiff(lines[2], expected)).to.equal(-1);
  });
});
