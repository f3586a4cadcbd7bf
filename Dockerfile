# The sample application. The library's own runtime dependencies are few; the app's (database drivers, JWT,
# OpenAPI) are development dependencies of this repository, so the image keeps the full install.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
ENV NODE_ENV=production
EXPOSE 3000
CMD ["node", "dist/main.js"]
