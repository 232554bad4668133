// A key input refused in words (a bad label, an unknown scope …): pages show it, the API answers 400,
// the CLI exits 2. Its own module so the CLI can recognise it without loading the key store.
export class KeyInputError extends Error {}
