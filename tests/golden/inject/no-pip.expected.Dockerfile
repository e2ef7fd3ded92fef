FROM node:20-alpine
WORKDIR /app
COPY package*.json ./
RUN npm ci --omit=dev
RUN echo "pip is not used here" && pip --version || true
CMD ["node", "server.js"]
