import { useQuery } from "@tanstack/react-query";
import { api, call } from "../../api/client";

/** orgKey is the react-query key of an organization (org events refresh it). */
export const orgKey = (org: string) => ["org", org, "detail"];

/** useOrg is the organization with the caller's role in it. */
export function useOrg(org: string) {
  return useQuery({
    queryKey: orgKey(org),
    queryFn: () => call(api.GET("/api/v1/organizations/{org}", { params: { path: { org } } })),
  });
}

/** isAdmin: owners and admins manage the organization. */
export function isAdmin(role?: string) {
  return role === "owner" || role === "admin";
}
