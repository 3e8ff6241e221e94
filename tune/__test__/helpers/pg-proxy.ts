// A TCP proxy in front of PostgreSQL that cuts a client's connection at its next COMMIT, to test
// what PostgresStorage does when it cannot know whether a COMMIT went through.
//
//   'after'  forwards the COMMIT, swallows the server's reply, and closes both sides 100 ms later
//            (the transaction committed; the client never hears of it);
//   'before' swallows the COMMIT and closes the client's side only: the server's backend stays
//            idle in its transaction, which is 'in progress' until someone ends that backend.
import { createServer, connect, type Server, type Socket } from 'node:net';

export type CutMode = 'after' | 'before';

/** A simple-protocol Query message `COMMIT`. */
const COMMIT = Buffer.concat([Buffer.from('Q'), Buffer.from([0, 0, 0, 11]), Buffer.from('COMMIT\0')]);

export class PgProxy {
  readonly port: number;
  /** COMMITs to cut, in order. */
  readonly cuts: CutMode[] = [];
  /** How many COMMITs were cut. */
  cutCount = 0;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(server: Server, port: number) {
    this.server = server;
    this.port = port;
  }

  static start(targetPort: number, targetHost = '127.0.0.1'): Promise<PgProxy> {
    return new Promise((resolve, reject) => {
      let proxy: PgProxy;
      const server = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        proxy.sockets.add(client);
        proxy.sockets.add(upstream);
        let swallowReplies = false;
        let cut: CutMode | null = null;
        upstream.on('data', (d) => {
          if (!swallowReplies && !client.destroyed) client.write(d);
        });
        client.on('data', (d) => {
          const mode = proxy.cuts[0];
          if (mode !== undefined && d.includes(COMMIT)) {
            proxy.cuts.shift();
            proxy.cutCount++;
            cut = mode;
            if (mode === 'after') {
              swallowReplies = true;
              upstream.write(d);
              setTimeout(() => {
                client.destroy();
                upstream.destroy();
              }, 100);
            } else {
              client.destroy(); // the backend waits, idle in transaction
            }
            return;
          }
          upstream.write(d);
        });
        client.on('error', () => {});
        upstream.on('error', () => client.destroy());
        client.on('close', () => {
          if (cut !== 'before') upstream.end();
          proxy.sockets.delete(client);
        });
        upstream.on('close', () => {
          client.destroy();
          proxy.sockets.delete(upstream);
        });
      });
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        proxy = new PgProxy(server, (server.address() as { port: number }).port);
        resolve(proxy);
      });
    });
  }

  /** Closes the proxy and every connection through it. */
  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
