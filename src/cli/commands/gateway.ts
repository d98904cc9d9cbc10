/**
 * `koala gateway`: runs the gateway in the foreground. Prints exactly one line on stdout when it
 * is ready (tests and scripts parse it); logs go to KOALA_LOG_FILE. SIGTERM/SIGINT end open
 * sessions, flush the store and exit 0.
 */
import { renderOptionHelp } from '../../config/config-doc.js';
import { loadConfig } from '../../config/load-config.js';
import { Gateway } from '../../gateway/gateway.js';
import { lowerAllThreads } from '../../gateway/thread-priority.js';
import { tuneV8ForGateway } from '../../gateway/v8-tuning.js';
import { Logger } from '../../log/logger.js';
import { configFlagSpec, configFlags, parseCommandArgs } from '../cli-args.js';

export const gatewayHelp = `Usage: koala gateway [--mode record] [--store DIR] [--agent-socket PATH] [--grpc-addr HOST:PORT] [options]

Runs the gateway: listens for agents (unix socket for the C shim, gRPC for Go), assembles their
traffic into sessions and stores them under --store. When ready it prints one line on stdout:

  koala gateway ready mode=<mode> store=<dir or -> agent-socket=<path> grpc=<host:port>

In replay and record+replay modes the line ends with outbound=<host:port> inbound=<host:port>:
the outbound mock (give it to the SUT's agent as KOALA_OUTBOUND_ADDR) and the replay API
(POST /replay with one session line, POST /json with a ReplayingSession).

SIGTERM or SIGINT ends open sessions, flushes the store and exits 0.

In record mode the gateway yields to the SUT: all its threads run at --record-nice (default 19),
and decoding, assembling and storing run on their own thread, off the thread that receives.

Options (flags override the environment):
${renderOptionHelp()}
  -h, --help                      Show this help.
`;

export async function gatewayCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('gateway', argv, configFlagSpec());
  if (values.help) {
    process.stdout.write(gatewayHelp);
    return 0;
  }
  const config = loadConfig({ env: process.env, flags: configFlags(values) });
  const logger = Logger.create({ level: config.logLevel, file: config.logFile });
  tuneV8ForGateway();
  const gw = await Gateway.start({ ...config, logger });
  const log = logger.child('gateway');
  if (config.mode === 'record' && config.assembler !== 'inline' && config.recordNice > 0) {
    // A recording gateway serves the SUT and must not compete with it. Lowering the assembly
    // thread alone left V8's process-wide GC helpers collecting its garbage at normal priority
    // (~45 % on top of its own time), and the receiving thread's share still cost the SUT
    // throughput (bench/RESULTS-overhead.md, Session 3). What arrives while the SUT keeps the CPU
    // waits in the agents' buffers and the socket; beyond them the agents drop and count.
    log.info('running at a low priority while recording', { nice: config.recordNice, threads: lowerAllThreads(config.recordNice) });
  }

  const done = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      gw.close().then(
        () => resolve(0),
        (err: unknown) => {
          log.error('error while stopping', { err });
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

  process.stdout.write(
    `koala gateway ready mode=${config.mode} store=${config.storeDir ?? '-'} agent-socket=${gw.agentSocket} grpc=${gw.agentGrpcAddr}` +
      // Replay modes add the addresses actually bound (port 0 allowed): the agents' KOALA_OUTBOUND_ADDR, the replay API.
      `${gw.replaying ? ` outbound=${gw.outboundAddr ?? '-'} inbound=${gw.inboundAddr ?? '-'}` : ''}\n`,
  );
  const code = await done;
  logger.close();
  return code;
}
