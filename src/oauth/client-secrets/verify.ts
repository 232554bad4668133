// oidc-provider checks client_secret_basic / client_secret_post with Client#compareClientSecret
// (lib/shared/client_auth.js), which compares the presented secret with the stored value as a string.
// The stored value is a hash now, so that comparison is replaced: hash the presented secret, compare
// in constant time. client_secret_jwt (which needs the clear secret as an HMAC key) is not offered
// (clientAuthMethods in provider.ts), nor any other use of the secret as a key (HS-signed request
// objects and responses, symmetric encryption: those features are off).
import type Provider from "oidc-provider";
import { clientSecretMatches } from "./stored-secret.js";

export function verifyHashedClientSecrets(provider: Provider): void {
  provider.Client.prototype.compareClientSecret = function (this: InstanceType<Provider["Client"]>, actual: string) {
    return clientSecretMatches(this.clientSecret, actual);
  };
}
