// The results page's chart: cumulative conversion by day, treatment against holdout (ECharts).
document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("conversion-chart");
  const source = document.getElementById("conversion-data");
  if (!box || !source || !window.echarts) return;
  const data = JSON.parse(source.textContent);
  const chart = window.echarts.init(box, null, { renderer: "canvas" });
  const pct = (values) => values.map((v) => (v === null ? null : Math.round(Number(v) * 1000) / 10));
  chart.setOption({
    animation: false,
    grid: { left: 48, right: 16, top: 36, bottom: 32 },
    legend: { top: 0 },
    xAxis: { type: "category", data: data.days },
    yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
    series: [
      { name: data.labels.treatment, type: "line", data: pct(data.treatment), showSymbol: data.days.length < 32 },
      { name: data.labels.holdout, type: "line", data: pct(data.holdout), showSymbol: data.days.length < 32 },
    ],
  });
  window.addEventListener("resize", () => chart.resize());
});
