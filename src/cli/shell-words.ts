// `--command "<program and args>"` split into words the way a POSIX shell splits them, and nothing
// more: whitespace separates words; 'single quotes' keep everything literally; "double quotes" keep
// everything except that a backslash escapes " \ $ ` and a newline; outside quotes a backslash keeps
// the next character (a backslash-newline disappears). Nothing is expanded or run: $HOME, ~, *, ;,
// | and $(…) stay as written, since no shell ever sees the command (the gateway starts the program
// directly). An unclosed quote or a trailing backslash is refused with a message saying which.

export class ShellWordsError extends Error {}

export function shellWords(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false; // "" is a word ('' or ""), so track whether one has begun
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === " " || c === "\t" || c === "\n") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
    } else if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close < 0) throw new ShellWordsError(`The command has a ' quote that is not closed (at character ${i + 1})`);
      word += text.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      let j = i + 1;
      for (;;) {
        if (j >= text.length) throw new ShellWordsError(`The command has a " quote that is not closed (at character ${i + 1})`);
        const d = text[j]!;
        if (d === '"') break;
        if (d === "\\" && j + 1 < text.length && '"\\$`\n'.includes(text[j + 1]!)) {
          if (text[j + 1] !== "\n") word += text[j + 1];
          j += 2;
        } else {
          word += d;
          j++;
        }
      }
      inWord = true;
      i = j + 1;
    } else if (c === "\\") {
      if (i + 1 >= text.length) throw new ShellWordsError("The command ends with a backslash that escapes nothing");
      if (text[i + 1] !== "\n") {
        word += text[i + 1];
        inWord = true;
      }
      i += 2;
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
