# alliance-node: one member node (GraphQL API, libp2p peer, background jobs) in one process.
#
#   docker build -t alliance-node .
#   docker run -v alliance-data:/data -p 127.0.0.1:4000:4000 -p 4001:4001 alliance-node start --genesis /data/genesis.jsonl
#
# The entrypoint is the `alliance` command line, so any command runs in the image
# (`docker run --rm -v alliance-data:/data alliance-node token --role analyst`); `alliance` is also
# on the PATH for `docker exec`. See docker-compose.yml for a three-member alliance on PostgreSQL.
FROM node:24-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

# Dependencies first, so that a change of the source does not reinstall them. Only the runtime
# dependencies: the `node` devDependency merely gives npm scripts Node 24 on older machines, and no
# runtime dependency needs an install script.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Node 24 runs the TypeScript sources directly (type stripping): there is no build step.
COPY node/ node/
COPY migrations/ migrations/
COPY schema/ schema/
COPY scripts/deploy/ scripts/deploy/

# The code stays root's and read-only to the node; only /data is the node user's (uid 1000).
RUN chmod 0755 node/cli/bin.ts \
 && ln -s /app/node/cli/bin.ts /usr/local/bin/alliance \
 && mkdir -p /data \
 && chown node:node /data

ENV ALLIANCE_DATA_DIR=/data \
    ALLIANCE_HTTP=0.0.0.0:4000 \
    ALLIANCE_P2P=/ip4/0.0.0.0/tcp/4001

USER node
# Keys (keys/member.json is the member's identity), the API token key, unwrapped epoch keys and,
# without DATABASE_URL, the embedded database.
VOLUME ["/data"]
# 4000: HTTP (GraphQL, /healthz, /readyz, /metrics), for the member's own users only.
# 4001: libp2p, for the other members' nodes.
EXPOSE 4000 4001

# The node stops cleanly on SIGTERM (node/cli/start.ts) and starts no child processes, so it runs
# as PID 1 without an init.
STOPSIGNAL SIGTERM

# Ready = the HTTP server answers and the database with it. The slim image has no curl: Node's fetch.
# The port is the one of ALLIANCE_HTTP, on loopback.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "const port = (process.env.ALLIANCE_HTTP || '').split(':').pop() || '4000'; fetch('http://127.0.0.1:' + port + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "/app/node/cli/bin.ts"]
CMD ["start"]
