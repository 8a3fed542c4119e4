// Draws the supervision board's charts with ECharts' SVG renderer, from each .board-chart element's
// data-chart (labels, values, drill-down links): no inline script, as the CSP allows none. Drawn
// again after htmx swaps in fresh figures; a click on a bar opens the suggestions behind it.
(function () {
  "use strict";

  function draw(root) {
    root.querySelectorAll(".board-chart[data-chart]").forEach(function (el) {
      var spec = JSON.parse(el.dataset.chart);
      var old = echarts.getInstanceByDom(el);
      if (old) old.dispose();
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption({
        animation: false,
        grid: { left: 8, right: 40, top: 8, bottom: 8 },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: spec.labels, inverse: true, axisLabel: { width: 110, overflow: "truncate" } },
        series: [{ type: "bar", data: spec.values, itemStyle: { color: spec.color }, label: { show: true, position: "right" }, cursor: "pointer" }],
      });
      chart.on("click", function (params) {
        var url = spec.links[params.dataIndex];
        if (url) window.location.assign(url);
      });
      el.dataset.drawn = "svg";
    });
  }

  // A session that expired answers the polling with the login page: go there instead of showing it
  // inside the board, and come back to this filter after signing in.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var url = event.detail.xhr && event.detail.xhr.responseURL;
    if (url && new URL(url).pathname === "/login") {
      event.detail.shouldSwap = false;
      window.location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    }
  });

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.target); });
  window.addEventListener("resize", function () {
    document.querySelectorAll(".board-chart[data-drawn]").forEach(function (el) {
      var chart = echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
})();
