// Usage per connected app (issue 28 item 5): the sum over the user's keys from that client, as one
// chart per app on Connected apps (views/connected-apps-usage.ejs).
import type { Keys, KeyView } from "../keys/index.js";
import type { ConnectedApp } from "./connected-apps-routes.js";
import { usageChart, type UsageChart } from "./usage-chart.js";

export async function appUsageCharts(
  keys: Keys,
  apps: readonly ConnectedApp[],
  oauthKeys: readonly KeyView[],
  now = new Date(),
): Promise<{ app: ConnectedApp; chart: UsageChart }[]> {
  return Promise.all(
    apps.map(async (app, i) => {
      const ids = oauthKeys.filter((k) => k.clientId === app.clientId).map((k) => k.id);
      return { app, chart: usageChart(`app-usage-${i}`, `${app.name} (client id ${app.clientId})`, await keys.usage.forKeys(ids, now)) };
    }),
  );
}
