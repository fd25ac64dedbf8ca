import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import type { BatchAlarm } from '../../indicators/batch-store.ts';
import { MAX_WIRE_INTEGER } from '../../encoding/integers.ts';
import type { NetworkStatus } from '../../p2p/status.ts';

/** The node's network, as the API reads it; a node without one answers an empty status. */
export interface NetworkSource {
  status(): Promise<NetworkStatus>;
  /** Batches refused and kept as evidence (forks), newest first (BatchStore.alarms). */
  batchAlarms(): Promise<BatchAlarm[]>;
}

export const NO_NETWORK: NetworkSource = {
  status: async () => ({ peerId: null, listenAddrs: [], peers: [], heads: [] }),
  batchAlarms: async () => [],
};

function safeInt(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' || (typeof v === 'string' && /^-?\d{1,16}$/.test(v)) ? Number(v) : undefined;
  return n !== undefined && Number.isInteger(n) && Math.abs(n) <= MAX_WIRE_INTEGER ? n : undefined;
}

const SAFE_INT_RANGE = 'an integer from -(2^53-1) to 2^53-1';

/**
 * The API type of every integer a peer may send (seqs, epochs: up to 2^53 - 1 by schema/wire.md and
 * schema/roster.md), as a JSON number. GraphQL's `Int` is 32-bit: a head of 3,000,000,000 announced
 * by a peer made `network` fail as a whole. Values outside the range are still an error here, never
 * a rounded number.
 */
export const SafeInt = new GraphQLScalarType({
  name: 'SafeInt',
  description: `${SAFE_INT_RANGE}, as a JSON number`,
  serialize(value) {
    const n = safeInt(value);
    if (n === undefined) throw new GraphQLError(`SafeInt cannot represent ${typeof value === 'number' ? String(value) : typeof value}: it holds ${SAFE_INT_RANGE}`);
    return n;
  },
  parseValue(value) {
    if (typeof value !== 'number' || safeInt(value) === undefined) {
      throw new GraphQLError(`SafeInt must be ${SAFE_INT_RANGE}`, { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return value;
  },
  parseLiteral(ast) {
    const n = ast.kind === Kind.INT ? safeInt(Number(ast.value)) : undefined;
    if (n === undefined) {
      throw new GraphQLError(`SafeInt must be ${SAFE_INT_RANGE}`, { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return n;
  },
});

export function networkResolvers(network: NetworkSource) {
  return {
    SafeInt,
    Query: {
      network: () => network.status(),
      batchAlarms: () => network.batchAlarms(),
    },
  };
}
