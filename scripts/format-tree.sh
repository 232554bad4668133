#!/usr/bin/env bash
# One-shot: brings the whole tree to what `npm test` checks (prettier --check, eslint). Run once by whoever merges
# the formatter in, after every branch in flight has landed (a tree-wide reformat conflicts with all of them), then
# commit the result on its own ("Format the tree: prettier --write, eslint --fix, long comments wrapped"), so blame
# can skip it (.git-blame-ignore-revs).
#   bash scripts/format-tree.sh
# Later, `npm run format` does the same for new code.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== prettier --write ."
npx prettier --write --log-level warn .
echo "== eslint --fix ."
npx eslint --fix . || true # what it cannot fix is reported again below
echo "== comments longer than 140 columns (Prettier leaves them): wrapped"
git ls-files -z -- '*.ts' '*.mts' '*.js' '*.mjs' '*.cjs' ':!src/generated/**' | xargs -0 node scripts/wrap-comments.mjs
echo "== prettier --write . (again, after the comment moves)"
npx prettier --write --log-level warn .

echo "== check: prettier, eslint, tsc"
npx prettier --check --log-level warn .
npx eslint .
npx tsc --noEmit -p .
echo "format-tree: done; $(git status --porcelain | wc -l) file(s) changed: review with git diff --stat, then commit"
