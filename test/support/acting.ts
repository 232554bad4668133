// Who mints or revokes in tests that call the key service directly: the operator, as the CLI does.
import type { KeyActing } from "../../src/keys/index.js";

export const BY_OPERATOR: KeyActing = { actor: { type: "cli", id: null }, via: "cli" };
