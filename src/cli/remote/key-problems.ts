// What an offline key check says, in words (keys check, auth set-token).
import type { FormatProblem } from "../../keys/index.js";

export const FORMAT_PROBLEMS: Record<FormatProblem, string> = {
  empty: "the key is empty",
  too_long: "too long to be a Keyward key",
  bad_prefix: "no Keyward key prefix (such as kw_user_)",
  bad_shape: "wrong length or characters after the prefix (49 letters and digits expected)",
  bad_checksum: "the checksum does not match: the key is mistyped, truncated or made up",
};
