// The compiled build: src/ (TypeScript) to dist/ (plain JavaScript), with tsc -p tsconfig.build.json;
// then the server's entry, dist/main.js, is replaced by one bundle of it (esbuild: bundleServer below).
//   node scripts/build.mjs             build now (run by `npm ci` after generate.mjs, and by `npm test`)
//   node scripts/build.mjs --if-stale  build only if src/ changed since the last build (`npm start`)
// Emit only (--noCheck, same output as a checked build): type errors are `npm run typecheck`'s job,
// so an install never fails on one. dist/.build-stamp holds a fingerprint of the inputs (path, size,
// mtime of every file under src/, the tsconfigs and this script); `isStale()` compares it, in a few milliseconds,
// and bin/keyward.js and the tests' spawners (test/support/processes.ts, bench/servers.ts) call `ensureBuilt()`
// so what runs is never older than the source. Concurrent callers build once (a lock directory), and
// a new build replaces dist/ by renaming (dist.next-<pid>), never file by file.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "src");
const dist = path.join(root, "dist");
const stamp = path.join(dist, ".build-stamp");
const lock = path.join(root, ".dist-build.lock");
const INPUTS = ["tsconfig.json", "tsconfig.build.json", "scripts/build.mjs"];

/** A digest of what the build reads: every file under src/ and the tsconfigs (path, size, mtime). */
function fingerprint() {
  const hash = createHash("sha256");
  const visit = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else add(file);
    }
  };
  const add = (file) => {
    const s = statSync(file);
    hash.update(`${path.relative(root, file)}\0${s.size}\0${s.mtimeMs}\n`);
  };
  visit(src);
  for (const name of INPUTS) add(path.join(root, name));
  return hash.digest("hex");
}

/** True when dist/ is missing or was built from other sources. Without src/ (a deployment of dist/ alone) nothing is stale. */
export function isStale() {
  if (!existsSync(path.join(src, "main.ts"))) return false;
  try {
    return readFileSync(stamp, "utf8") !== fingerprint();
  } catch {
    return true;
  }
}

/** Builds dist/ from scratch (nothing left over from deleted sources), then swaps it in. */
export function build() {
  withLock(buildUnlocked);
}

/** Builds only if stale; safe to call from many processes at once. */
export function ensureBuilt() {
  if (!isStale()) return;
  withLock(() => {
    if (isStale()) buildUnlocked();
  });
}

function buildUnlocked() {
  const before = fingerprint();
  // Built beside dist/ and renamed into place, so a process starting meanwhile finds the old build
  // or the new one whole, never a half-written or emptied dist/.
  const next = `${dist}.next-${process.pid}`;
  const old = `${dist}.old-${process.pid}`;
  rmSync(next, { recursive: true, force: true });
  try {
    execFileSync(
      process.execPath,
      [
        path.join(root, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        path.join(root, "tsconfig.build.json"),
        "--noCheck",
        "--outDir",
        next,
      ],
      {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    wasmFromFile(next);
    bundleServer(next);
    // A source edited during the build leaves the stamp out: the next caller builds again.
    if (fingerprint() === before) writeFileSync(path.join(next, ".build-stamp"), before);
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(next, dist);
  } finally {
    rmSync(next, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}

/**
 * The Prisma clients load their query compiler (~1.9 MB of WebAssembly) from a module holding it as one
 * base64 string (~2.5 MB): that module's source and the string literal in it stay on the heap for the
 * life of the process (~4.8 MB, docs/performance.md). The build decodes it once to a .wasm file beside each
 * generated client and makes the client read that file instead: the same bytes, no string kept.
 * A generated client of another shape is left as it is (it still works); test/compiled-build.test.ts notices.
 */
const BASE64_IMPORT =
  /const \{ wasm \} = await import\("(@prisma\/client\/runtime\/[\w.-]+\.wasm-base64\.mjs)"\);?\s*return await decodeBase64AsWasm\(wasm\);?/;
const READ_WASM = `const { readFile } = await import("node:fs/promises");
        return new WebAssembly.Module(await readFile(new URL("../query_compiler_bg.wasm", import.meta.url)));`;

function wasmFromFile(out) {
  for (const backend of ["sqlite", "postgresql"]) {
    const client = path.join(out, "generated", backend, "internal", "class.js");
    if (!existsSync(client)) continue;
    const code = readFileSync(client, "utf8");
    const found = BASE64_IMPORT.exec(code);
    if (!found) continue;
    const source = readFileSync(fileURLToPath(import.meta.resolve(found[1])), "utf8");
    const literal = /^const wasm = "([A-Za-z0-9+/=]+)";/m.exec(source);
    if (!literal) continue;
    writeFileSync(path.join(out, "generated", backend, "query_compiler_bg.wasm"), Buffer.from(literal[1], "base64"));
    writeFileSync(client, code.replace(found[0], READ_WASM));
  }
}

/**
 * The server's entry, dist/main.js, as one bundle (esbuild, whitespace removed, comments out) instead of
 * tsc's file: the server keeps every module's source text on the heap for its whole life, and one
 * compact source costs ~4 MB less than ~290 separate files with their comments (docs/performance.md).
 * Everything else in dist/ (the CLI, `keyward serve`, the tests' imports) stays tsc's output. Native
 * and PostgreSQL-only packages stay imports from node_modules; a dynamic import() becomes a chunk
 * beside main.js (main-*.js), loaded when first needed as before. Each source file's import.meta.url
 * is rewritten to the URL its tsc-built twin would have, so ../../views and the like resolve as in dist/.
 * Runs in a child (esbuild's plugins need its async API; build() stays synchronous). Without esbuild
 * (it comes with tsx, a dependency) tsc's dist/main.js is kept.
 */
function bundleServer(out) {
  try {
    createRequire(import.meta.url).resolve("esbuild");
  } catch {
    return;
  }
  execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--bundle-server", out], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function bundleServerNow(out) {
  const esbuild = createRequire(import.meta.url)("esbuild");
  const asIfBuilt = {
    name: "keyward-import-meta-url",
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (!args.path.startsWith(src + path.sep)) return undefined;
        let code = readFileSync(args.path, "utf8");
        if (args.path.endsWith(path.join("internal", "class.ts"))) code = code.replace(BASE64_IMPORT, READ_WASM);
        const twin = "./" + path.relative(src, args.path).split(path.sep).join("/").replace(/\.ts$/, ".js");
        code = code.replaceAll("import.meta.url", `new URL(${JSON.stringify(twin)}, import.meta.url).href`);
        return { contents: code, loader: "ts" };
      });
    },
  };
  for (const name of readdirSync(out)) if (/^main(-.*)?\.js(\.map)?$/.test(name)) rmSync(path.join(out, name));
  await esbuild.build({
    entryPoints: { main: path.join(src, "main.ts") },
    outdir: out,
    chunkNames: "main-[name]-[hash]",
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minifyWhitespace: true,
    legalComments: "linked",
    sourcemap: "linked",
    external: ["better-sqlite3", "argon2", "pg", "@prisma/adapter-pg", "@prisma/client/runtime/query_compiler_bg.*"],
    // CommonJS packages in an ES module bundle: their require() of Node's modules.
    banner: { js: "import { createRequire as __keywardRequire } from 'node:module'; const require = __keywardRequire(import.meta.url);" },
    plugins: [asIfBuilt],
    logLevel: "error",
  });
}

function withLock(work) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
      // A builder that died leaves its lock: a build takes seconds, so a minute-old lock is abandoned.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        /* gone meanwhile */
      }
      if (Date.now() > deadline) throw new Error(`another build holds ${lock}`, { cause: err });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
  }
  try {
    work();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2] === "--bundle-server") {
  await bundleServerNow(process.argv[3]);
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (!existsSync(path.join(src, "main.ts"))) {
    // `npm ci` in the Dockerfile runs before the sources are copied; it builds after copying them.
    console.log("build: no src/main.ts here, nothing to build");
  } else {
    try {
      if (process.argv.includes("--if-stale")) ensureBuilt();
      else build();
    } catch (err) {
      const out = [err.stdout, err.stderr].filter(Boolean).map(String).join("");
      console.error(`build failed (tsc -p tsconfig.build.json): ${out || err.message}`);
      process.exit(1);
    }
  }
}
