#!/usr/bin/env bash
# Entry point of `pnpm bench`. The idle scenario holds 10,000 sockets in the server and as many
# in the generator, each in its own process, so each needs a descriptor limit above that: raise
# the soft limit as far as the hard one allows and let the harness fall back (with a note) if the
# result is still too low. Then build the wsup packages (the servers load their dist/, as users
# do) and run the TypeScript harness straight from source.
set -euo pipefail
cd "$(dirname "$0")"
want=16384
soft=$(ulimit -n)
hard=$(ulimit -Hn)
if [ "$soft" != unlimited ] && [ "$soft" -lt "$want" ]; then
  if [ "$hard" = unlimited ] || [ "$hard" -ge "$want" ]; then
    ulimit -n "$want"
  else
    ulimit -n "$hard"
  fi
fi
BENCH_NOFILE=$(ulimit -n)
export BENCH_NOFILE
for pkg in core express fastify koa; do
  node ../node_modules/typescript/bin/tsc -p "../packages/$pkg/tsconfig.build.json"
done
exec node --import tsx src/main.ts "$@"
