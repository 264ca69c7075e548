# syntax=docker/dockerfile:1
# One image with the three binaries: gateway (default command), worker, seed.
#   docker build -t masscustom/orchestrator .
#   docker run --rm masscustom/orchestrator            # gateway
#   docker run --rm masscustom/orchestrator worker     # worker

ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Modules first, so that a code change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags='-s -w' -o /out/ ./gateway ./worker ./cmd/seed

FROM debian:bookworm-slim
# ca-certificates: TLS to managed Postgres/Redis/Temporal; curl: the compose healthchecks;
# tzdata: time zones for time.LoadLocation.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /out/gateway /out/worker /out/seed /usr/local/bin/
USER 10001:10001
ENV HTTP_ADDR=0.0.0.0:8080 WORKER_HTTP_ADDR=0.0.0.0:8081
EXPOSE 8080 8081
CMD ["gateway"]
