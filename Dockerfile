# syntax=docker/dockerfile:1
# Build stage: install everything from the lockfile and compile TypeScript with tsc.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY api api
COPY workers workers
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled code, production dependencies and SQL migrations, run as a non-root user.
FROM node:24-slim
# The commit the image is built from, for /-/version and release_registry_build_info (the image has
# no .git): docker build --build-arg GIT_SHA=$(git rev-parse HEAD) .
ARG GIT_SHA=""
# glibc's per-thread malloc arenas fragment under a sync's allocation rate (RSS grows with the
# number of tags while the JS heap does not); two arenas keep it flat (src/sync/README.md, Memory).
ENV NODE_ENV=production PORT=8080 GIT_SHA=${GIT_SHA} MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json products.example.json ./
COPY migrations migrations
USER node
EXPOSE 8080 9464
# The Procfile's `web`; run `release` (migrate) and `worker` from the same image with another command
# (the worker as `node --max-semi-space-size=8 --optimize-for-size dist/src/cli.js worker`, as in
# the Procfile).
CMD ["node", "dist/src/cli.js", "api"]
