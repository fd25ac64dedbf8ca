/**
 * Periodic jobs of the node (expiring indicators, pruning the audit log, catching matching up): one
 * service that runs each job at start (if asked), every `everyMs` after, and when asked (`runNow`),
 * never two runs of one job at once. A failing run is logged and the job runs again at its next time.
 */
import type { Startable } from '@libp2p/interface';
import type { Logger } from './log.ts';

export interface PeriodicJob {
  /** For the log. */
  name: string;
  everyMs: number;
  /** Run once as soon as the service starts (in the background). */
  atStart?: boolean;
  /** Resolves with what to log at info (nothing to log: undefined). */
  run(): Promise<Record<string, unknown> | undefined>;
}

interface State {
  job: PeriodicJob;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  /** Asked to run again while running: once more after. */
  again: boolean;
}

export class PeriodicJobs implements Startable {
  readonly #jobs: Map<string, State>;
  readonly #logger: Logger;
  #started = false;

  constructor(jobs: PeriodicJob[], logger: Logger) {
    this.#jobs = new Map(jobs.map((job) => [job.name, { job, timer: undefined, running: undefined, again: false }]));
    this.#logger = logger;
  }

  start(): void {
    this.#started = true;
    for (const s of this.#jobs.values()) {
      if (s.job.atStart) this.runNow(s.job.name);
      s.timer = setInterval(() => this.runNow(s.job.name), s.job.everyMs);
      s.timer.unref();
    }
  }

  /** Runs a job now (or once more right after the run in progress). Nothing once stopped. */
  runNow(name: string): void {
    const s = this.#jobs.get(name);
    if (s === undefined) throw new RangeError(`no periodic job ${name}`);
    if (!this.#started) return;
    if (s.running !== undefined) {
      s.again = true;
      return;
    }
    s.running = (async () => {
      do {
        s.again = false;
        try {
          const report = await s.job.run();
          if (report !== undefined) this.#logger.info(report, `${s.job.name}`);
        } catch (err) {
          this.#logger.error({ err }, `${s.job.name} failed; it runs again at its next time`);
        }
      } while (s.again && this.#started);
    })().finally(() => {
      s.running = undefined;
    });
  }

  /** Clears the timers and waits for runs in progress. */
  async stop(): Promise<void> {
    this.#started = false;
    for (const s of this.#jobs.values()) clearInterval(s.timer);
    await Promise.all([...this.#jobs.values()].map((s) => s.running));
  }
}
