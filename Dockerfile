# Keyward: one stateless process. Run as many as you like behind a proxy on one PostgreSQL
# (see compose.yaml), or alone with the embedded SQLite database in /app/data.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 DATABASE_URL=file:/app/data/keyward.db
# As npm start: glibc returns freed memory instead of raising these after start-up (docs/performance.md)
ENV MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072

# Dependencies first (cached layer). postinstall generates the Prisma clients from the schemas
# (the build step in it waits for the sources: there are none yet).
COPY package.json package-lock.json prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY prisma ./prisma
COPY scripts ./scripts
RUN npm ci --omit=dev && npm cache clean --force

# The compiled build (plain JavaScript in dist/; typescript is a runtime dependency for this).
COPY src ./src
RUN node scripts/build.mjs
COPY views ./views
COPY static ./static
COPY bin ./bin
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node
VOLUME ["/app/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrations run on start (safe with several instances: Prisma takes an advisory lock).
# --max-semi-space-size=1: V8's young generation stays at 1 MB semi-spaces instead of growing to 16 MB
# during start-up and keeping them: ~15 MB less resident at idle, no measured cost in throughput
# (docs/performance.md, start-up). The same flag as `npm start`.
CMD ["node", "--max-semi-space-size=1", "dist/main.js"]
