/* govhub monitor charts: ECharts (vendored in vendor/, no CDN) over the JSON the page embeds. */
(function () {
  "use strict";
  var DIMENSIONS = ["conformance", "completeness", "accuracy", "consistency", "timeliness", "accessibility"];

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || typeof echarts === "undefined") { return null; }
    var c = echarts.init(el, null, {renderer: "canvas"});
    window.addEventListener("resize", function () { c.resize(); });
    return c;
  }

  /* `names`: the page's words for the codes in the data (dimensions, sources, clients), from the catalogue. */
  function qualityCharts(trend, lang, names) {
    Object.keys(trend).forEach(function (resource) {
      var c = chart("quality-" + resource);
      if (!c) { return; }
      var versions = trend[resource];
      c.setOption({
        animation: false,
        title: {text: document.getElementById("quality-" + resource).dataset.title, left: "center",
                textStyle: {fontSize: 13}},
        tooltip: {trigger: "axis"},
        legend: {bottom: 0, itemWidth: 12, itemGap: 6, textStyle: {fontSize: 11}},
        grid: {left: 50, right: 20, top: 35, bottom: 60},
        xAxis: {type: "category", data: versions.map(function (v) { return "v" + v.version; })},
        yAxis: {type: "value", min: 0, max: 1},
        series: DIMENSIONS.map(function (d) {
          return {name: (names && names[d]) || d, type: "line", symbolSize: 6,
                  data: versions.map(function (v) { return v.scores[d]; })};
        })
      });
    });
  }

  function volumeCharts(volume, lang, empty, names) {
    [["by-source", "by_source"], ["by-department", "by_department"], ["by-client", "by_client"]].forEach(function (p) {
      var c = chart(p[0]);
      if (!c) { return; }
      var groups = volume[p[1]] || {};
      var keys = Object.keys(groups);
      c.setOption({
        animation: false,
        title: {text: document.getElementById(p[0]).dataset.title + (keys.length ? "" : " — " + empty),
                left: "center", textStyle: {fontSize: 13}},
        tooltip: {trigger: "axis"},
        legend: {bottom: 0, type: "scroll"},
        grid: {left: 50, right: 20, top: 35, bottom: 50},
        xAxis: {type: "category", data: volume.buckets},
        yAxis: {type: "value", minInterval: 1},
        series: keys.map(function (n) {
          return {name: (names && names[n]) || n, type: "bar", stack: "all", data: groups[n]};
        })
      });
    });
  }

  // a <select data-autosubmit> submits its form on change (no inline handlers: the CSP forbids them)
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.matches && el.matches("select[data-autosubmit]") && el.form) { el.form.submit(); }
  });

  window.govhubMonitor = {qualityCharts: qualityCharts, volumeCharts: volumeCharts};
})();
