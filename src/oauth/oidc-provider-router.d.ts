// oidc-provider's own router (no type definitions ship for it). provider-routes.ts uses it so that
// Keyward decides which provider endpoint a request reaches with exactly the provider's rules.
declare module "oidc-provider/lib/helpers/router.js" {
  type Noop = () => void;
  export default class Router {
    get(name: string, path: string, ...middleware: Noop[]): this;
    post(name: string, path: string, ...middleware: Noop[]): this;
    put(name: string, path: string, ...middleware: Noop[]): this;
    delete(name: string, path: string, ...middleware: Noop[]): this;
    options(name: string, path: string, ...middleware: Noop[]): this;
    match(method: string, path: string): { route: { name: string; path: string }; params: Record<string, string> } | undefined;
  }
}
