# syntax=docker/dockerfile:1
# Multi-stage build of every amlrisk binary on Debian bookworm (the same
# packages scripts/bootstrap installs), shipped in a slim runtime image.

# Swagger UI for the gateway's /docs, pinned by gateway/package-lock.json.
FROM node:20-bookworm-slim AS docs
WORKDIR /src/gateway
COPY gateway/package.json gateway/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM debian:bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake ninja-build pkg-config \
      protobuf-c-compiler libprotobuf-c-dev libnng-dev librdkafka-dev libpq-dev \
      libmicrohttpd-dev libcmocka-dev libjansson-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
 && ninja -C /build amlrisk-migrate amlrisk-core amlctl amlrisk-score amlrisk-consumer \
      amlrisk-sim amlrisk-gateway

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libprotobuf-c1 libnng1 librdkafka1 libpq5 \
      libmicrohttpd12 libjansson4 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin amlrisk
COPY --from=build /build/bin/amlrisk-migrate /build/bin/amlrisk-core /build/bin/amlctl \
     /build/bin/amlrisk-score /build/bin/amlrisk-consumer /build/bin/amlrisk-sim \
     /build/bin/amlrisk-gateway /usr/local/bin/
COPY --from=docs /src/gateway/node_modules/swagger-ui-dist /usr/share/amlrisk/swagger-ui
ENV GATEWAY_DOCS_DIR=/usr/share/amlrisk/swagger-ui
USER amlrisk
CMD ["amlrisk-core", "--help"]
