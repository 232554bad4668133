// Wraps comment lines longer than Prettier's print width, which Prettier leaves alone (ESLint's max-len reports
// them). Used by scripts/format-tree.sh; safe to run again (a tree that fits is left unchanged).
//   node scripts/wrap-comments.mjs [--width 140] FILE...
// The comments are found by the TypeScript parser (never a `//` inside a string, template or regex), and only
// their text moves: a full-line `// …` becomes several `// …` lines; a one-line `/** … */` becomes a block;
// a `// …` after code moves to its own lines above that code, at its indentation.
import { readFileSync, writeFileSync } from "node:fs";
import ts from "@typescript/typescript6";

const args = process.argv.slice(2);
const at = args.indexOf("--width");
const width = at === -1 ? 140 : Number(args.splice(at, 2)[1]);

/** Every comment in the file, once, in source order. */
function comments(text, fileName) {
  const kind = /\.m?jsx?$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, kind);
  const found = new Map();
  const add = (ranges) => {
    for (const r of ranges ?? []) found.set(r.pos, r);
  };
  const visit = (node) => {
    add(ts.getLeadingCommentRanges(text, node.getFullStart()));
    add(ts.getTrailingCommentRanges(text, node.getEnd()));
    ts.forEachChild(node, visit);
  };
  visit(file);
  add(ts.getLeadingCommentRanges(text, file.endOfFileToken.getFullStart()));
  return [...found.values()].sort((a, b) => a.pos - b.pos);
}

/** Words of `text` in lines of at most `room` characters (a longer word stays whole on its own line). */
function fill(text, room) {
  const lines = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function wrapFile(fileName) {
  const text = readFileSync(fileName, "utf8");
  const edits = [];
  for (const c of comments(text, fileName)) {
    const lineStart = text.lastIndexOf("\n", c.pos - 1) + 1;
    const lineEnd = text.indexOf("\n", c.end) === -1 ? text.length : text.indexOf("\n", c.end);
    const line = text.slice(lineStart, lineEnd);
    if (line.length <= width || text.slice(c.end, lineEnd).trim() !== "") continue;
    const before = text.slice(lineStart, c.pos);
    const indent = /^\s*/.exec(before)[0];
    const body = text.slice(c.pos, c.end);
    let replacement;
    if (c.kind === ts.SyntaxKind.SingleLineCommentTrivia && !body.startsWith("///")) {
      const wrapped = fill(body.replace(/^\/\/\s?/, ""), width - indent.length - 3).map((l) => `${indent}// ${l}`);
      replacement = before.trim() === "" ? wrapped.join("\n") : `${wrapped.join("\n")}\n${before.trimEnd()}`;
    } else if (c.kind === ts.SyntaxKind.MultiLineCommentTrivia && before.trim() === "" && !body.includes("\n")) {
      const doc = body.startsWith("/**");
      const inner = body.replace(/^\/\*\*?/, "").replace(/\*\/$/, "");
      const wrapped = fill(inner, width - indent.length - 3).map((l) => `${indent} * ${l}`);
      replacement = [`${indent}${doc ? "/**" : "/*"}`, ...wrapped, `${indent} */`].join("\n");
    } else continue; // a multi-line block (its own lines are what is long) or a directive: left for a person
    edits.push({ from: lineStart, to: c.end, replacement });
  }
  if (edits.length === 0) return 0;
  let out = text;
  for (const e of edits.reverse()) out = out.slice(0, e.from) + e.replacement + out.slice(e.to);
  writeFileSync(fileName, out);
  return edits.length;
}

let total = 0;
for (const file of args) {
  const n = wrapFile(file);
  if (n) console.log(`${file}: ${n} comment(s) wrapped`);
  total += n;
}
console.log(`wrap-comments: ${total} comment(s) wrapped in ${args.length} file(s) checked`);
