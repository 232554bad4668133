#!/usr/bin/env bash
# Writes a new migration for both providers from the difference between two schema versions.
#   scripts/new-migration.sh NAME [OLD_SQLITE_SCHEMA OLD_POSTGRES_SCHEMA]
# Without old schemas the migration is made from empty (the first one). `prisma migrate dev`
# does not work offline with driver adapters, so migrations are diffs.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data # the SQLite diff database lives there
name=$1
declare -A url=([sqlite]="file:./data/diff.db" [postgresql]="${PG_DIFF_URL:-postgresql://postgres@127.0.0.1:5432/test}")
declare -A old=([sqlite]="${2:-}" [postgresql]="${3:-}")
for p in sqlite postgresql; do
  dir="prisma/$p/migrations/$name"
  mkdir -p "$dir"
  if [ -n "${old[$p]}" ]; then from=(--from-schema-datamodel "${old[$p]}"); else from=(--from-empty); fi
  DATABASE_URL="${url[$p]}" node node_modules/prisma/build/index.js migrate diff "${from[@]}" \
    --to-schema-datamodel "prisma/$p/schema.prisma" --script 2>/dev/null | grep -v '^Loaded Prisma config' > "$dir/migration.sql"
  printf 'provider = "%s"\n' "$p" > "prisma/$p/migrations/migration_lock.toml"
  echo "wrote $dir/migration.sql ($(wc -l < "$dir/migration.sql") lines)"
done
