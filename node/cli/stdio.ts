/**
 * Output whose reader went away (`alliance start | head`, a closed terminal, a supervisor that
 * stopped reading) is lost, and nothing else is. Without a listener, the failed write's error (EPIPE)
 * is thrown as an uncaught exception: a running node would die on its next line of output without
 * closing its storage, its data-directory lock left behind, and a one-shot command would print a
 * stack. With one, the stream is closed and later writes to it are dropped, so neither a node's
 * shutdown nor a command's exit status depends on whether anyone still reads.
 *
 * The node's JSON logs do not go through process.stderr (pino writes to fd 2 itself, and stops
 * writing on EPIPE in the same way).
 */
export function tolerateLostOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', () => {
      // Nowhere left to report it: the stream that failed is where it would go.
    });
  }
}
