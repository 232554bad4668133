import { randomBase62 } from "../keys/format.js";

export const newOrganizationId = () => `org_${randomBase62(20)}`;
export const newAppId = () => `app_${randomBase62(20)}`;
export const PERSONAL_ORG_NAME = "Personal";
