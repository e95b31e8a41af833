# syntax=docker/dockerfile:1
#
# wxlogin's container image: a static binary on distroless, as user 65532.
#
#   docker build -t wxlogin .
#   docker run --rm -e DATABASE_URL=… -e SECRET_KEY=… -e WECHAT_APPID=… -e WECHAT_SECRET=… -p 8080:8080 wxlogin
#
# The image has no shell, so it has no HEALTHCHECK: compose (haproxy's checks
# on /readyz) and Kubernetes (probes on /healthz and /readyz) do the probing.
# deploy/docker_test.go checks this file (make test).

# The Go of go.mod's `go` line, pinned by tag.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# The web assets (dashboard, playground) and the migrations are embedded.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
	CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w" -o /out/wxlogin . \
	&& mkdir -p /out/data/avatars

# Static binaries need no libc: distroless/static has CA certificates (for
# WeChat's API, rediss:// and sslmode=verify-full), tzdata and /etc/passwd
# with user nonroot (65532), and nothing else.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wxlogin /wxlogin
# Uploaded avatars. Mount a volume here that every instance shares (compose:
# the avatars volume; Kubernetes: a ReadWriteMany claim). An empty named
# volume takes this folder's owner, so 65532 can write to it. No VOLUME
# instruction: it would give each container an anonymous volume of its own.
COPY --from=build --chown=65532:65532 /out/data /data
ENV AVATAR_DIR=/data/avatars
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/wxlogin"]
CMD ["serve"]
