import type { Principal } from './auth.ts';

/** What every resolver gets besides its arguments. */
export interface ApiContext {
  principal: Principal;
  requestId: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}
