/**
 * Ports a command is about to listen on, checked before it writes anything: `alliance start` (HTTP
 * and P2P) and `alliance demo` (three of each) name the port that cannot be had and the flag that
 * changes it in one line, instead of failing half-way with a stack (a fresh data directory would by
 * then hold a new development alliance).
 */
import net from 'node:net';
import { AllianceError } from './errors.ts';

export type PortErrorCode =
  /** Something else listens there. */
  | 'PORT_IN_USE'
  /** Listening there is refused for another reason: an address not on this machine, a privileged port. */
  | 'PORT_UNAVAILABLE';

export class PortError extends AllianceError {
  declare readonly code: PortErrorCode;
  constructor(code: PortErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

/** A port to be listened on: where, what it is for (`HTTP port 4000 (127.0.0.1)`), and how to change it. */
export interface PortNeed {
  host: string;
  port: number;
  what: string;
  fix: string;
}

/** Why nothing could listen on `host:port` now (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...), or undefined if it could. */
export function listenProblem(port: number, host = '127.0.0.1'): Promise<string | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    // exclusive: a port held by another worker of a cluster counts as taken too.
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(undefined)));
  });
}

export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return (await listenProblem(port, host)) === undefined;
}

const EXPLAINED: Record<string, string> = {
  EADDRNOTAVAIL: "the address is not one of this machine's",
  EACCES: 'not allowed: ports below 1024 need privileges',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve',
};

/** The PortError for `need` failing with `problem` (an errno code). */
export function portError(need: PortNeed, problem: string): PortError {
  if (problem === 'EADDRINUSE') return new PortError('PORT_IN_USE', `${need.what} is in use: ${need.fix}`, { host: need.host, port: need.port });
  const why = EXPLAINED[problem] ? `${problem}: ${EXPLAINED[problem]}` : problem;
  return new PortError('PORT_UNAVAILABLE', `${need.what} cannot be listened on (${why}): ${need.fix}`, { host: need.host, port: need.port, problem });
}

const ANY_HOST = new Set(['0.0.0.0', '::', '']);

/**
 * Throws the PortError of the first of `needs` that cannot be listened on, or that another of them
 * would take first (the same port on the same or every address). Port 0 (any free port) always can.
 */
export async function requireListenable(needs: PortNeed[]): Promise<void> {
  for (const [i, need] of needs.entries()) {
    if (need.port === 0) continue;
    if (!Number.isInteger(need.port) || need.port < 1 || need.port > 65535) {
      throw new PortError('PORT_UNAVAILABLE', `${need.what} is not a valid port: ${need.fix}`, { port: need.port });
    }
    const before = needs.slice(0, i).find((n) => n.port === need.port && (n.host === need.host || ANY_HOST.has(n.host) || ANY_HOST.has(need.host)));
    if (before !== undefined) throw new PortError('PORT_IN_USE', `${need.what} is also ${before.what}: ${need.fix}`, { host: need.host, port: need.port });
    const problem = await listenProblem(need.port, need.host);
    if (problem !== undefined) throw portError(need, problem);
  }
}

/** Host and TCP port of a listen multiaddr (`/ip4/0.0.0.0/tcp/4001`, `/ip6/::/tcp/4001`), or undefined for other kinds. */
export function tcpOfMultiaddr(addr: string): { host: string; port: number } | undefined {
  const m = /^\/(ip4|ip6)\/([^/]+)\/tcp\/(\d+)(?:\/|$)/.exec(addr);
  return m ? { host: m[2]!, port: Number(m[3]) } : undefined;
}

/**
 * Which listen of a starting node failed because its address was in use: the HTTP server (Node's
 * EADDRINUSE) or the P2P host (its failure names EADDRINUSE). For a port taken between the check and
 * the listen; undefined for any other failure.
 */
export function inUseFailure(err: unknown): 'http' | 'p2p' | undefined {
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') return 'http';
  if (err instanceof AllianceError && err.code === 'P2P_START_FAILED' && /EADDRINUSE/.test(err.message)) return 'p2p';
  return undefined;
}
