// The console's URLs, one function per kind of page, so that links never
// disagree with the route table (routes.tsx). Names and slugs are used,
// as in the API, so URLs read well and survive a reload.
const e = encodeURIComponent;
export const paths = {
  home: () => "/",
  login: (returnTo?: string) => (returnTo ? `/login?return_to=${e(returnTo)}` : "/login"),
  account: () => "/account",
  org: (org: string) => `/orgs/${e(org)}`,
  orgPart: (org: string, part: "members" | "audit" | "tasks" | "settings" | "workspaces/new") => `/orgs/${e(org)}/${part}`,
  task: (org: string, id: string) => `/orgs/${e(org)}/tasks/${e(id)}`,
  workspace: (org: string, ws: string) => `/orgs/${e(org)}/workspaces/${e(ws)}`,
  workspacePart: (org: string, ws: string, part: "projects" | "groups" | "members" | "access") => `/orgs/${e(org)}/workspaces/${e(ws)}/${part}`,
  project: (org: string, ws: string, p: string) => `/orgs/${e(org)}/workspaces/${e(ws)}/projects/${e(p)}`,
  apps: (org: string, ws: string, p: string) => `${paths.project(org, ws, p)}/apps`,
  app: (org: string, ws: string, p: string, app: string) => `${paths.project(org, ws, p)}/apps/${e(app)}`,
  cronjobs: (org: string, ws: string, p: string) => `${paths.project(org, ws, p)}/cronjobs`,
  cronjob: (org: string, ws: string, p: string, cj: string) => `${paths.project(org, ws, p)}/cronjobs/${e(cj)}`,
  functions: (org: string, ws: string, p: string) => `${paths.project(org, ws, p)}/functions`,
  fn: (org: string, ws: string, p: string, fn: string) => `${paths.project(org, ws, p)}/functions/${e(fn)}`,
  assistant: (org: string, ws: string) => `${paths.workspace(org, ws)}/assistant`,
  chat: (org: string, ws: string, chat: string) => `${paths.assistant(org, ws)}/chats/${e(chat)}`,
  plan: (org: string, ws: string, plan: string) => `${paths.assistant(org, ws)}/plans/${e(plan)}`,
  diagnose: (org: string, ws: string, project?: string) => `${paths.assistant(org, ws)}/diagnose${project ? `?project=${e(project)}` : ""}`,
};
