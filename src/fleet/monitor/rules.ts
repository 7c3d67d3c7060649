/**
 * Rule evaluation, one sample at a time, for one alert instance (rule, host).
 * Pure: the state object is what the collector stores in SQLite in the same
 * transaction as the sample, so replaying the stored samples gives the same
 * transitions, and a crash between samples changes nothing.
 *
 * Semantics (docs/monitoring.md):
 *  - fires on exactly the n-th breach whose timestamps all lie in (t − W, t]
 *    (Zabbix's count(/host/key,W,"gt",T)>=n), never on the (n−1)-th;
 *  - resolves after `recoverCount` consecutive samples meeting `recover`
 *    (default: not `when`) — hysteresis; missing samples never resolve;
 *  - F firings within H make it `flapping`: one notice, it stays open, and it
 *    resolves once no firing happened for H (judged on sample time).
 */
import { test, type MetricRule } from "./template.js";

export interface InstanceState {
  /** timestamps of the latest breaches while not firing (at most n) */
  breaches: number[];
  firing: boolean;
  since: number;
  recoverRun: number;
  flapping: boolean;
  /** timestamps of recent firing transitions (within the flap window) */
  flaps: number[];
  lastChange: number;
  acked: boolean;
}

export const newState = (): InstanceState => ({ breaches: [], firing: false, since: 0, recoverRun: 0, flapping: false, flaps: [], lastChange: 0, acked: false });

export type Transition = { state: "firing" | "flapping" | "resolved"; note?: string } | null;

export function evaluate(r: MetricRule, st: InstanceState, t: number, v: number): Transition {
  if (st.flapping && !st.firing && t - st.lastChange >= r.flapWithinMs) {
    st.flapping = false;
    st.flaps = [];
    st.acked = false;
    // fall through: this sample may start a new breach sequence
    const again = evaluate(r, st, t, v);
    return again ?? { state: "resolved", note: "flapping ended" };
  }
  if (!st.firing) {
    if (!test(r.when, v)) return null;
    st.breaches.push(t);
    while (st.breaches.length > r.count) st.breaches.shift();
    while (st.breaches.length && st.breaches[0]! <= t - r.withinMs) st.breaches.shift();
    if (st.breaches.length < r.count) return null;
    st.firing = true;
    st.since = t;
    st.recoverRun = 0;
    st.breaches = [];
    st.lastChange = t;
    st.flaps.push(t);
    while (st.flaps.length && st.flaps[0]! <= t - r.flapWithinMs) st.flaps.shift();
    if (st.flapping) return null; // already open as flapping: no new notice
    st.acked = false;
    if (st.flaps.length >= r.flapCount) {
      st.flapping = true;
      return { state: "flapping", note: `${st.flaps.length} firings within ${Math.round(r.flapWithinMs / 1000)}s` };
    }
    return { state: "firing" };
  }
  const recovering = r.recover ? test(r.recover, v) : !test(r.when, v);
  if (!recovering) {
    st.recoverRun = 0;
    return null;
  }
  if (++st.recoverRun < r.recoverCount) return null;
  st.firing = false;
  st.recoverRun = 0;
  st.lastChange = t;
  return st.flapping ? null : { state: "resolved" };
}
