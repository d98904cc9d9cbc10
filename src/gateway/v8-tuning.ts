/**
 * V8 settings for a process that is the gateway (`koala gateway`). V8's flags are process-wide, so
 * a program embedding the Gateway class keeps its own.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * Turns off allocation-site pretenuring, before the assembly thread starts. V8 watches which
 * allocation sites make objects that survive young collections and, for a site whose objects
 * mostly do, allocates the next ones in the old generation. Nearly everything the gateway makes
 * dies young, but a burst of survivors (a batch still being decoded when a collection comes) can
 * tip a site over. Its old objects then point at young ones, which survive because of that, which
 * keeps the site tenured: the gateway stayed in that state for whole runs, its collector copying
 * and promoting nearly everything it assembled. Measured on one dump of Go agent traffic
 * (`bench/gateway-feed.ts`, bench/RESULTS-overhead.md "Session 6"): 78, 92 and 57 µs per session
 * in three rounds with pretenuring, 57, 56 and 58 without.
 */
export function tuneV8ForGateway(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}
