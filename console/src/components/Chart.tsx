import { useEffect, useRef } from "react";
import uPlot from "uplot";

export interface ChartProps {
  title: string;
  data: uPlot.AlignedData;
  series: { label: string; stroke: string }[];
  height?: number;
  /** Bars for bucketed reports; lines for the live stream. */
  bars?: boolean;
  /** The x range in unix seconds (a report's query range); default: the data's. */
  xRange?: [number, number];
}

/** A uPlot time series that updates in place (no re-creation per frame). */
export function Chart({ title, data, series, height = 180, bars = false, xRange }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const range = useRef(xRange);
  range.current = xRange;
  const shape = series.map((s) => s.label).join("|");

  useEffect(() => {
    if (!host.current) return;
    const width = Math.max(300, host.current.clientWidth);
    const paths = bars ? uPlot.paths.bars?.({ size: [0.6, 40] }) : undefined;
    plot.current = new uPlot(
      {
        title,
        width,
        height,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, fill: bars ? s.stroke : undefined, paths, width: 2 }))],
        axes: [{}, { size: 60 }],
        scales: { x: { time: true, range: (_u, min, max) => range.current ?? [min, max] } },
        legend: { live: false },
      },
      data,
      host.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Re-created only when the set of series changes; data flows through setData.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shape, title, height, bars]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return <div className="chart" ref={host} data-testid={`chart-${title}`} />;
}
