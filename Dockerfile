# The demo app: compiled in one stage, run from a slim one without dev tools.
# The dev stage runs the sources instead, for `docker compose --profile dev watch`.
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-trixie-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# nodemon restarts tsx on a change under src/ or views/; compose syncs those and
# public/ into /app as they change, so only package.json or the lockfile rebuild.
# No USER: the engine looks an image's user name up on its own host to copy
# files in (moby's tarCopyOptions), so a sync into a USER node container fails
# wherever the host has no user node. The app still runs as node, via setpriv.
FROM deps AS dev
ENV NODE_ENV=development
ENV PATH=/app/node_modules/.bin:$PATH
RUN install -d -o node -g node /app/secrets /app/origin-data
COPY tsconfig.json nodemon.json ./
COPY src ./src
COPY views ./views
COPY public ./public
EXPOSE 4000
CMD ["setpriv", "--reuid=node", "--regid=node", "--init-groups", "nodemon"]

# Last, so a plain `docker build .` (and compose's app service) builds it.
FROM node:${NODE_VERSION}-trixie-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --chown=node:node package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --chown=node:node --from=build /app/dist ./dist
COPY --chown=node:node views ./views
COPY --chown=node:node public ./public
# Where compose mounts the session secret and the origin's data: a new named
# volume takes the owner of the directory it is first mounted on, so user node
# can write to them.
RUN install -d -o node -g node /app/secrets /app/origin-data
USER node
EXPOSE 4000
# node directly, not npm start: npm would swallow SIGTERM and skip the graceful shutdown.
CMD ["node", "dist/server.js"]
