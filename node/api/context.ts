import type { Principal } from './auth.ts';
import type { CaseDataLedger } from './case-data.ts';

/** What every resolver gets besides its arguments. */
export interface ApiContext {
  principal: Principal;
  requestId: string;
  /** What the answer hands out of the member's records, audited before it is sent (case-data.ts). */
  caseData?: CaseDataLedger;
  /** The kind of operation being run, once known. */
  operation?: 'query' | 'mutation';
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}
