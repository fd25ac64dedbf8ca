import net from 'node:net';

/**
 * A free TCP port on 127.0.0.1 for a node to bind later (tests and benches). Taken below the kernel's
 * ephemeral range (32768 and up), so that sockets others open on port 0 meanwhile cannot land on it.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}
