import { useEffect, useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { live, type KubeObject, type OrgEvent, type Status, type WatchKind } from "./socket";
import type { Problem } from "../api/problem";

/**
 * useOrgEvents follows an organization's events while the component is
 * mounted; onEvent sees each one once, in order. By default every event
 * also invalidates the organization's cached queries, so lists refetch.
 */
export function useOrgEvents(org: string | undefined, onEvent?: (e: OrgEvent) => void, invalidate = true): Status {
  const qc = useQueryClient();
  const cb = useRef(onEvent);
  cb.current = onEvent;
  const [status, setStatus] = useState<Status>("connecting");
  useEffect(() => {
    if (!org) return;
    return live().subscribe(
      { topic: "org", org },
      {
        onStatus: setStatus,
        // The resume point was lost: what is cached may have missed events.
        onReset: () => {
          if (invalidate) qc.invalidateQueries({ queryKey: ["org", org] });
        },
        onMessage: (m) => {
          if (m.type !== "event") return;
          cb.current?.(m.event);
          if (invalidate) qc.invalidateQueries({ queryKey: ["org", org] });
        },
      },
    );
  }, [org, qc, invalidate]);
  return status;
}

export interface WatchState<T extends KubeObject> {
  items: T[];
  synced: boolean;
  status: Status;
  problem?: Problem;
  ended?: string;
}

/**
 * useWatch keeps the live list of a kind in a project: the server lists
 * and then watches it with the user's own workspace identity, so RBAC
 * decides what appears. Items are sorted by name.
 */
export function useWatch<T extends KubeObject = KubeObject>(
  scope: { org?: string; workspace?: string; project?: string },
  kind: WatchKind,
): WatchState<T> {
  const [state, setState] = useState<WatchState<T>>({ items: [], synced: false, status: "connecting" });
  const { org, workspace, project } = scope;
  useEffect(() => {
    if (!org || !workspace || !project) return;
    const byUID = new Map<string, T>();
    const publish = (patch: Partial<WatchState<T>> = {}) =>
      setState((s) => ({
        ...s,
        ...patch,
        items: [...byUID.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
      }));
    setState({ items: [], synced: false, status: "connecting" });
    return live().subscribe(
      { topic: "watch", org, workspace, project, kind },
      {
        onReset: () => {
          byUID.clear();
          publish({ synced: false });
        },
        onStatus: (status) => setState((s) => ({ ...s, status })),
        onMessage: (m) => {
          switch (m.type) {
            case "watch": {
              const o = m.event.object as T;
              if (m.event.type === "DELETED") byUID.delete(o.metadata.uid);
              else byUID.set(o.metadata.uid, o);
              publish();
              break;
            }
            case "synced":
              publish({ synced: true });
              break;
            case "error":
              publish({ problem: m.problem });
              break;
            case "ended":
              publish({ ended: m.reason });
              break;
          }
        },
      },
    );
  }, [org, workspace, project, kind]);
  return state;
}
