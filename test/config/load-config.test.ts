import { expect } from 'chai';
import { isKoalaError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/load-config.js';
import { defaultAgentSocket } from '../../src/config/options.js';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(isKoalaError(err, 'KOALA_ERR_CONFIG'), String(err)).to.equal(true);
    return (err as Error).message;
  }
  throw new Error('expected a KOALA_ERR_CONFIG');
}

describe('loadConfig', () => {
  it('gives the documented defaults with an empty environment', () => {
    const c = loadConfig({ env: {} });
    expect(c).to.deep.include({
      mode: 'record', storeDir: undefined, agentGrpcAddr: '127.0.0.1:2517', inboundAddr: '127.0.0.1:2514',
      sutAddr: '127.0.0.1:2515', outboundAddr: '127.0.0.1:2516', matchStrategy: 'chunk', matchThreshold: 0.7,
      inboundReadTimeoutMs: 100, logFile: 'STDERR', logLevel: 'INFO', maxFrameBytes: 16 * 1024 * 1024,
      sessionIdleMs: 2000, maxPayloadBytes: 64 * 1024 * 1024, bufferSize: 33554432,
    });
    expect(c.outboundBypassAddrs).to.deep.equal([]);
    expect(c.agentSocket).to.equal(defaultAgentSocket());
    expect(c.agentSocket).to.match(/^\/tmp\/koala-\d+\/agent\.sock$/);
  });

  it('reads the environment, and flags override it', () => {
    const env = {
      KOALA_MODE: 'Record+Replay', KOALA_LOG_LEVEL: 'debug', KOALA_INBOUND_READ_TIMEOUT: '1m30s', KOALA_MAX_FRAME: '1MiB',
      KOALA_OUTBOUND_BYPASS_ADDR: '10.0.0.1:3306, :6379', KOALA_REPLAYING_MATCH_STRATEGY: 'SIM', KOALA_LOG_FILE: 'stdout',
      KOALA_AGENT_GRPC_ADDR: '127.0.0.1:9000',
    };
    const c = loadConfig({ env, flags: { 'grpc-addr': '[::1]:0', 'log-level': 'warn' } });
    expect(c.mode).to.equal('record+replay');
    expect(c.logLevel).to.equal('WARN');
    expect(c.inboundReadTimeoutMs).to.equal(90_000);
    expect(c.maxFrameBytes).to.equal(1 << 20);
    expect(c.outboundBypassAddrs).to.deep.equal(['10.0.0.1:3306', ':6379']);
    expect(c.matchStrategy).to.equal('sim');
    expect(c.logFile).to.equal('STDOUT');
    expect(c.agentGrpcAddr).to.equal('[::1]:0');
  });

  it('binds an address without a host to loopback, keeps an explicit one', () => {
    expect(loadConfig({ env: { KOALA_INBOUND_ADDR: ':2514' } }).inboundAddr).to.equal('127.0.0.1:2514');
    expect(loadConfig({ env: { KOALA_INBOUND_ADDR: '0.0.0.0:2514' } }).inboundAddr).to.equal('0.0.0.0:2514');
  });

  it('accepts the opt-in unix:///abs/path form of the gRPC address', () => {
    expect(loadConfig({ env: { KOALA_AGENT_GRPC_ADDR: 'unix:///run/koala/grpc.sock' } }).agentGrpcAddr).to.equal('unix:///run/koala/grpc.sock');
  });

  it('lets typed overrides win over env and flags', () => {
    const c = loadConfig({ env: { KOALA_SESSION_IDLE: '5s' }, flags: { 'session-idle': '3s' }, overrides: { sessionIdleMs: 10 } });
    expect(c.sessionIdleMs).to.equal(10);
  });

  const bad: Array<[Record<string, string>, Record<string, string>, RegExp]> = [
    [{ KOALA_MODE: 'recrod' }, {}, /KOALA_MODE \/ --mode.*"recrod".*record, replay, record\+replay/],
    [{ KOALA_LOG_LEVEL: 'LOUD' }, {}, /KOALA_LOG_LEVEL \/ --log-level.*TRACE, DEBUG/],
    [{}, { 'inbound-read-timeout': '10 parsecs' }, /--inbound-read-timeout.*from --inbound-read-timeout.*duration/],
    [{ KOALA_REPLAYING_MATCH_THRESHOLD: '1.5' }, {}, /KOALA_REPLAYING_MATCH_THRESHOLD.*between 0 and 1/],
    [{ KOALA_AGENT_GRPC_ADDR: 'localhost' }, {}, /KOALA_AGENT_GRPC_ADDR \/ --grpc-addr.*host:port/],
    [{ KOALA_AGENT_GRPC_ADDR: 'unix://relative.sock' }, {}, /KOALA_AGENT_GRPC_ADDR.*unix:\/\/\/absolute/],
    [{ KOALA_AGENT_GRPC_ADDR: 'unix:/tmp/x.sock' }, {}, /KOALA_AGENT_GRPC_ADDR.*unix:\/\/\/absolute/],
    [{ KOALA_INBOUND_ADDR: '1.2.3.4:99999' }, {}, /KOALA_INBOUND_ADDR/],
    [{ KOALA_MAX_FRAME: 'lots' }, {}, /KOALA_MAX_FRAME \/ --max-frame.*byte count/],
    [{ KOALA_OUTBOUND_BYPASS_ADDR: 'redis:6379' }, {}, /KOALA_OUTBOUND_BYPASS_ADDR.*"redis:6379"/],
  ];
  for (const [env, flags, message] of bad) {
    it(`fails naming the option for ${JSON.stringify({ ...env, ...flags })}`, () => {
      expect(configError(() => loadConfig({ env, flags }))).to.match(message);
    });
  }

  it('checks a flag even when the env value is valid', () => {
    expect(configError(() => loadConfig({ env: { KOALA_MODE: 'record' }, flags: { mode: 'fast' } }))).to.match(/from --mode/);
  });
});
