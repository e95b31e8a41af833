# The two commands. Both find or start PostgreSQL first (see scripts/dev.sh).
.PHONY: run test build generate db-stop screenshots soak cluster bench bench-admin

## run: start the server in dev mode with the built-in WeChat simulator
run:
	@scripts/dev.sh run

## test: gofmt, vet, staticcheck, generated-code check, then go test -race ./..., then make cluster's checks (about a minute)
test:
	@scripts/dev.sh test

## soak: a minute (SOAK_DURATION) of mixed load on loopback; fails if goroutines or the heap grow.
## Needs PostgreSQL where it may create a database: TEST_DATABASE_URL, else postgres@127.0.0.1:5432
soak:
	@scripts/dev.sh soak

## cluster: two instances on one PostgreSQL behind haproxy; load through it while one stops; checks
## that logins, revocations and rate limits hold across both (scripts/cluster.sh up|load|down)
cluster:
	@scripts/dev.sh cluster

## bench: server vs a raw net/http+pgx baseline, login vs pgbench, in one run; writes BENCHMARKS.md (scripts/bench.sh)
bench:
	@scripts/bench.sh

## bench-admin: the dashboard's users page at 1M users vs PostGraphile v4 (npx) on the same table, same run (scripts/bench-admin.sh)
bench-admin:
	@scripts/bench-admin.sh

## screenshots: regenerate docs/screenshots from the dashboard's browser tests
screenshots:
	@scripts/dev.sh screenshots

## build: build bin/wxlogin
build:
	go build -o bin/wxlogin .

## generate: regenerate the GraphQL code from schema.graphqls
generate:
	go generate ./...

## db-stop: stop the project-local PostgreSQL cluster, if make run/test started one
db-stop:
	@scripts/dev.sh db-stop
