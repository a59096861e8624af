# tern in a container: a static binary in an empty image, running as a
# user of its own, logging to standard output and error, serving /srv on
# port 8080, stopped gracefully.
#
# From source (needs the golang image and the Go module proxy):
#
#   docker build -t tern .                  # or: podman build -t tern .
#
# From a binary built beforehand, with no network at all:
#
#   CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o tern ./cmd/tern
#   docker build --build-arg TERN_BINARY=context -t tern .
#
# Run it (the stop timeout must exceed worker_shutdown_timeout, 25s in
# contrib/container/tern.hcl):
#
#   docker run -d --name tern -p 8080:8080 --stop-timeout 30 -v /srv/www:/srv:ro tern
#
# docs/operations.md#containers says more.

# Where the binary comes from: "build" compiles it below, "context" takes
# ./tern from the build context. A stage that is not needed is skipped.
ARG TERN_BINARY=build
ARG GO_IMAGE=docker.io/library/golang:1.26-bookworm

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /tern ./cmd/tern

FROM scratch AS context
COPY tern /tern

FROM ${TERN_BINARY} AS binary

FROM scratch
# A user of its own (no shell, no home to write), and the files tern
# reads: its configuration and a default page. tern writes nothing to
# disk here (no pid file, logs on stdout and stderr), so the root file
# system may be read-only.
COPY contrib/container/passwd contrib/container/group /etc/
COPY contrib/container/tern.hcl /etc/tern/tern.hcl
COPY contrib/container/srv/ /srv/
COPY --from=binary /tern /usr/local/bin/tern
USER 65532:65532
EXPOSE 8080
# SIGQUIT is tern's graceful stop: workers stop accepting, health checks
# answer 503, responses in flight finish (within worker_shutdown_timeout).
# SIGTERM, the default, would cut downloads short.
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/local/bin/tern", "-c", "/etc/tern/tern.hcl"]
