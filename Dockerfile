# The Floodgate image: the gateway of the reference stack (its default command) and the harness
# (`docker run IMAGE run SCENARIO --target ...`), for the files `harness stack render` writes
# (docs/gpu-box.md). Build from the repository root:  docker build -t floodgate:0.1.0 .
# The gateway reads its stack file at /config/stack.yaml and keeps its usage ledger in /data.

FROM node:20.19.4-bookworm-slim AS deps
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary; the compiler is the fallback when none fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20.19.4-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY harness ./harness
COPY reference-stack ./reference-stack
COPY scenarios ./scenarios
RUN ln -s /app/bin/harness.js /usr/local/bin/harness \
 && mkdir -p /config /data /reports \
 && chown node:node /data /reports
USER node
EXPOSE 8080
ENTRYPOINT ["node", "/app/bin/harness.js"]
CMD ["stack", "up", "/config/stack.yaml", "--host", "0.0.0.0", "--port", "8080", "--usage-db", "/data/usage.db"]
