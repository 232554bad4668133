import { Router } from "@koa/router";
import type { Services } from "../services.js";
import type { KeywardState } from "../http/state.js";
import { sendPage } from "./render.js";

export function landingRoutes(services: Services): Router<KeywardState> {
  const router = new Router<KeywardState>();
  router.get("/", async (ctx) => {
    await sendPage(ctx, "landing", { title: "Keyward", baseUrl: services.config.baseUrl, allowSignup: services.config.allowSignup });
  });
  return router;
}
