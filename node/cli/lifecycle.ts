/**
 * When a long-running command (`alliance start`, `alliance demo`) is asked to stop: SIGINT (Ctrl-C),
 * SIGTERM (a supervisor, `docker stop`, `kill`), or the npm that started it going away.
 *
 * npm runs a script or an `npx` bin through `sh -c` and forwards SIGINT and SIGTERM to that shell
 * only. The package.json scripts `exec` the node, so the shell becomes the node and the signal
 * reaches it; `npx alliance start` cannot: the shell dies of the signal and the node, handed to init,
 * would run on unseen, holding its ports and its data-directory lock. A process npm started lives
 * for npm (npm waits for it and has nothing else to do), so when its parent changes, the process
 * stops as if it had got SIGTERM. A node started otherwise (a supervisor, Docker, `nohup ... &`) is
 * left to outlive its parent, as such nodes are meant to.
 */

/** Why the command is asked to stop: the signal, or `parent gone` when npm's shell or npm itself went away. */
export type StopReason = NodeJS.Signals | 'parent gone';

/** How often the parent is checked; a stop within a second is soon enough for what npm started. */
const PARENT_CHECK_MS = 500;

/**
 * Calls `handler` on every stop request, with `first` true for the first one (stop cleanly) and false
 * for later signals (the user insists). Returns a function that removes the handlers.
 */
export function onStopRequest(handler: (reason: StopReason, first: boolean) => void): () => void {
  let requests = 0;
  let timer: NodeJS.Timeout | undefined;
  const request = (reason: StopReason) => {
    requests++;
    if (timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
    handler(reason, requests === 1);
  };
  const onSignal = (signal: NodeJS.Signals) => request(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // npm sets npm_lifecycle_event for what it runs: scripts (`start`, `demo`, ...) and `npx` bins.
  if (process.env.npm_lifecycle_event) {
    const parent = process.ppid;
    timer = setInterval(() => {
      if (process.ppid !== parent) request('parent gone');
    }, PARENT_CHECK_MS);
    timer.unref();
  }
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (timer !== undefined) clearInterval(timer);
  };
}
