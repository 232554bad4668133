// `keyward resources add --command "…"`: words split as a POSIX shell splits them, nothing expanded
// (src/cli/shell-words.ts). Pure function: no database (listed in test/backends.json).
import { describe, expect, it } from "vitest";
import { shellWords } from "../src/cli/shell-words.js";

describe("shellWords", () => {
  it.each([
    ["npx -y @modelcontextprotocol/server-filesystem /srv/files", ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/srv/files"]],
    ["  a \t b\nc  ", ["a", "b", "c"]],
    [`node 'my server.js' "two words"`, ["node", "my server.js", "two words"]],
    [`a'b'"c"d`, ["abcd"]],
    [`echo '' ""`, ["echo", "", ""]],
    [`say 'it''s'`, ["say", "its"]],
    [`say "it's" 'a "quote"'`, ["say", "it's", 'a "quote"']],
    [String.raw`a\ b c\\d \'e`, ["a b", "c\\d", "'e"]],
    [String.raw`"a \" b \\ c \$ d \n e"`, [String.raw`a " b \ c $ d \n e`]],
    [String.raw`'no \escapes here'`, [String.raw`no \escapes here`]],
    ["a\\\nb", ["ab"]],
    ["run $HOME ~ * ; | $(id) `id` && x", ["run", "$HOME", "~", "*", ";", "|", "$(id)", "`id`", "&&", "x"]],
    ["", []],
    ["é 'ünï code' 🙂", ["é", "ünï code", "🙂"]],
  ])("%j", (text, words) => {
    expect(shellWords(text)).toEqual(words);
  });

  it.each([
    [`node 'server.js`, /' quote that is not closed \(at character 6\)/],
    [`node "server.js`, /" quote that is not closed/],
    [`node "a \\"`, /" quote that is not closed/],
    ["node server.js \\", /ends with a backslash/],
  ])("refuses %j", (text, message) => {
    expect(() => shellWords(text)).toThrow(message);
  });
});
