# The engine's container image. The build stage bundles src/app/main.ts with esbuild (bin/bundle.ts);
# the runtime stage holds that bundle, its source map and the engine configurations, and nothing else:
# every npm dependency is inside the bundle, so the image has no node_modules and no npm install at all.
#
# ECS runs it with the command `--config config/<stage>/<shard>.json` after the entrypoint below.
#
# Node 22.23.3: the version of the `node` devDependency the tests run on (node_modules/.bin/node --version);
# keep the two equal. Not pinned by digest: the digest could not be looked up where this file was written
# (no registry access); pin it as node:22.23.3-bookworm-slim@sha256:<digest> once it can be.
ARG NODE_IMAGE=node:22.23.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /build
# The dependencies in their own layer, rebuilt only when the lockfile changes. npm ci installs exactly the
# lockfile, which holds the linux binaries the build runs (@esbuild/linux-x64 and -arm64). (.ci/run uses
# npm install only because the machine it was written on lacks other platforms' optional binaries; on
# linux npm ci accepts the lockfile.) Install scripts stay on: without its install script the `node`
# devDependency would leave a broken node_modules/.bin/node first on the PATH of `npm run`.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin/bundle.ts bin/
COPY lib/lambda-bundling.ts lib/
COPY src/ src/
RUN npm run bundle -- engine

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps
WORKDIR /app
# Owned by root and only readable by the user that runs them: the process cannot change its own code or configuration.
COPY --from=build /build/dist/engine/ dist/engine/
COPY config/ config/
USER node
# For `docker run`; ECS runs the task definition's own check. The port is engine.healthPort: 8080 unless
# MMRB__ENGINE__HEALTHPORT overrides it (a configuration file may set another: then pass that variable too).
# /health answers once the engine is up (the lease held, reconciled), hence the long start period.
# node's fetch, as the slim image has no curl.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.MMRB__ENGINE__HEALTHPORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/engine/main.mjs"]
