import pino, { type Logger } from 'pino';
import type { LogLevel } from './config.ts';
import { safeError } from './errors.ts';

/**
 * The node's JSON logger. Serializers keep record contents and raw identifiers out: requests are
 * logged by method and path only (a GraphQL GET carries the query in its query string), and errors
 * without the statement parameters that database errors carry.
 */
export function createLogger(level: LogLevel, destination: pino.DestinationStream = pino.destination({ fd: 2, sync: false })): Logger {
  return pino(
    {
      level,
      base: { service: 'alliance-node', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: {
        err: safeError,
        req: (req: { id?: string; method?: string; url?: string; ip?: string }) => ({
          id: req.id,
          method: req.method,
          path: req.url?.split('?')[0],
          remoteAddress: req.ip,
        }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
    },
    destination,
  );
}

export type { Logger };
