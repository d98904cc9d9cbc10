// A real runtime under the shim: CPython's ThreadingHTTPServer serving one request.
import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';

import { EventKind as K } from '../../src/generated/koala/v1/agent.pb.js';
import { bytesOn, runRecorded, withFakeGateway } from './shim-harness.js';

const candidates = ['/root/.pyenv/versions/3.11.7/bin/python3', '/usr/bin/python3'];
const python = candidates.find((p) => existsSync(p)) ?? 'python3';

const server = `
import http.server, socket, threading, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'hello from python'
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
port = srv.server_address[1]
threading.Thread(target=srv.serve_forever, daemon=True).start()
c = socket.create_connection(('127.0.0.1', port))
c.sendall(b'GET /hi HTTP/1.0\\r\\n\\r\\n')
buf = bytearray(65536)
got = b''
while True:
    n = c.recv_into(buf)
    if n == 0:
        break
    got += bytes(buf[:n])
c.close()
srv.shutdown()
print('port=%d' % port)
print('ok=%d' % got.endswith(b'hello from python'))
`;

describe('csrc shim under CPython', function () {
  this.timeout(30000);
  const t = withFakeGateway();

  it('records ACCEPT, the request bytes and the response bytes of a ThreadingHTTPServer', async () => {
    const script = t.dir.file('server.py');
    writeFileSync(script, server);
    const { res, events } = await runRecorded(t.gw, python, [script]);
    expect(res.out.ok).to.equal('1');
    const accept = events.find((e) => e.kind === K.EVENT_KIND_ACCEPT);
    expect(accept, 'an ACCEPT').to.not.equal(undefined);
    expect(accept!.local?.port).to.equal(Number(res.out.port));
    expect(bytesOn(events, K.EVENT_KIND_RECV, accept!.connId).toString()).to.equal('GET /hi HTTP/1.0\r\n\r\n');
    const response = bytesOn(events, K.EVENT_KIND_SEND, accept!.connId).toString();
    expect(response).to.match(/^HTTP\/1\.0 200 OK\r\n/);
    expect(response.endsWith('hello from python')).to.equal(true);
    // the client side is an outbound connection with the mirror-image bytes
    const connect = events.find((e) => e.kind === K.EVENT_KIND_CONNECT && e.peer?.port === Number(res.out.port))!;
    expect(bytesOn(events, K.EVENT_KIND_SEND, connect.connId).toString()).to.equal('GET /hi HTTP/1.0\r\n\r\n');
    expect(bytesOn(events, K.EVENT_KIND_RECV, connect.connId).toString()).to.equal(response);
  });
});
