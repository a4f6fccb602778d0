/**
 * A time-series chart (uPlot) of traffic: all of it, and what goes into
 * and out of the home network.
 * On the server it renders an empty, sized placeholder; in the browser it
 * draws and follows its container's width.
 *
 * @module
 */
import type { VNode } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { fmtRate } from "./_format.ts";

/** Props of {@link TrafficChart}. */
export interface TrafficChartProps {
  /** Times, seconds since the epoch. */
  t: number[];
  /** Bytes per second into the home network. */
  in: number[];
  /** Bytes per second out of it. */
  out: number[];
  /** Bytes per second seen in all (including traffic inside the home network). */
  all: number[];
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name)
    .trim();
  return v === "" ? fallback : v;
}

function clock(s: number): string {
  return new Date(s * 1000).toLocaleTimeString(undefined, {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
}

/** The traffic chart. */
export function TrafficChart(p: TrafficChartProps): VNode {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const axis = {
      stroke: cssVar("--muted", "#888"),
      grid: { stroke: cssVar("--grid", "#8883"), width: 1 },
      ticks: { stroke: cssVar("--grid", "#8883"), width: 1 },
    };
    const u = new uPlot(
      {
        width: Math.max(200, el.clientWidth),
        height: 200,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: {
            time: true,
            // One sample has no width: show the minute before it.
            range: (_u, min, max) => min === max ? [min - 60, max] : [min, max],
          },
        },
        axes: [
          {
            ...axis,
            space: 90,
            incrs: [1, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
            values: (_u, vals) => vals.map((v) => clock(v)),
          },
          {
            ...axis,
            size: 70,
            values: (_u, vals) => vals.map((v) => fmtRate(v)),
          },
        ],
        series: [
          { label: "Time", value: (_u, v) => v === null ? "–" : clock(v) },
          {
            label: "All",
            stroke: cssVar("--muted", "#888"),
            width: 1,
            dash: [4, 3],
            value: (_u, v) => v === null ? "–" : fmtRate(v),
          },
          {
            label: "In",
            stroke: cssVar("--in", "#2f81f7"),
            fill: cssVar("--in-fill", "#2f81f722"),
            width: 2,
            value: (_u, v) => v === null ? "–" : fmtRate(v),
          },
          {
            label: "Out",
            stroke: cssVar("--out", "#e3913b"),
            width: 2,
            value: (_u, v) => v === null ? "–" : fmtRate(v),
          },
        ],
      },
      [p.t, p.all, p.in, p.out],
      el,
    );
    plot.current = u;
    const ro = new ResizeObserver(() => {
      u.setSize({ width: Math.max(200, el.clientWidth), height: 200 });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    plot.current?.setData([p.t, p.all, p.in, p.out]);
  }, [p.t, p.all, p.in, p.out]);

  return <div class="chart" ref={box} aria-label="Traffic in and out" />;
}
