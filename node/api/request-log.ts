/**
 * The node's lines per HTTP request. Fastify writes two at info (arrival and completion); a node
 * answering thousands of lookups a second spends a noticeable share of its CPU on them. Here arrival
 * goes to debug and completion, carrying the request's method and path too, is one info line that
 * ALLIANCE_LOG_REQUESTS=false turns off. Failed requests are always logged, as are Fastify's other
 * lines (errors, stream errors, requests refused while closing).
 */
import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

export class RequestLogController extends LogController {
  readonly #completed: boolean;

  constructor(opts: { logRequests: boolean }) {
    super();
    this.#completed = opts.logRequests;
  }

  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
    else if (this.#completed) reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}
