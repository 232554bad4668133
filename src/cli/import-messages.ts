// `api-keys import` problems in words: the validator's terse phrasings ("Invalid input: expected
// string, received undefined", `Unrecognized key: "x"`) become what to fix on that line.
const FIELDS = "hash, label, created, last4";

const KIND: Record<string, string> = {
  string: "text in double quotes",
  number: "a number",
  boolean: "true or false",
  object: "a JSON object",
  array: "a list",
  null: "null",
  undefined: "missing",
};
const kind = (name: string) => KIND[name] ?? name;

export function importProblemInWords(message: string): string {
  const typed = /^(?:(\w+): )?Invalid input: expected (\w+), received (\w+)$/.exec(message);
  if (typed) {
    const [, field, expected = "", received = ""] = typed;
    if (!field)
      return `each line must be one JSON object with the fields ${FIELDS}, e.g. {"hash": "…", "created": "…", "last4": "…"}; this line is ${kind(received)}`;
    if (received === "undefined") return `${field}: missing; every line needs "${field}" (${kind(expected)})`;
    return `${field}: must be ${kind(expected)}, not ${kind(received)}`;
  }
  const unknown = /^Unrecognized keys?: (.+)$/.exec(message);
  if (unknown) return `unknown field${unknown[1]?.includes(",") ? "s" : ""} ${unknown[1]}: the fields are ${FIELDS}`;
  if (message === "not valid JSON")
    return `not valid JSON: each line must be one JSON object, e.g. {"hash": "…", "created": "…", "last4": "…"}`;
  const label = /^label: Label (.+)$/.exec(message);
  if (label) return `label: ${label[1]}`;
  return message;
}
