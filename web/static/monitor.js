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

  /* `names`: the page's words for the codes in the data (dimensions, sources, clients), from the catalogue.
     Small multiples: one panel per dimension (3 × 2), so scores that coincide (five at 1.0) cannot hide
     each other; each panel has its own title, a tooltip with the score to three places, and a click on a
     point opens that version's quality page (the chart element's data-link). */
  function qualityCharts(trend, lang, names) {
    Object.keys(trend).forEach(function (resource) {
      var el = document.getElementById("quality-" + resource);
      var c = chart("quality-" + resource);
      if (!c) { return; }
      var versions = trend[resource];
      var labels = versions.map(function (v) { return (lang === "en" ? "v" : "版本 ") + v.version; });
      var grids = [], xAxes = [], yAxes = [], series = [], titles = [];
      DIMENSIONS.forEach(function (d, i) {
        var col = i % 3, row = Math.floor(i / 3);
        var left = 4 + col * 32, top = 14 + row * 44;
        grids.push({left: left + 5 + "%", width: "24%", top: top + 6 + "%", height: "26%", containLabel: false});
        titles.push({text: (names && names[d]) || d, left: left + 5 + "%", top: top + "%",
                     textStyle: {fontSize: 12, fontWeight: "normal"}});
        xAxes.push({type: "category", gridIndex: i, data: labels, axisLabel: {fontSize: 10}});
        yAxes.push({type: "value", gridIndex: i, max: 1, splitNumber: 2, axisLabel: {fontSize: 10},
                    min: function (v) { return Math.max(0, Math.min(0.9, Math.floor((v.min - 0.02) * 20) / 20)); }});
        series.push({name: (names && names[d]) || d, type: "line", xAxisIndex: i, yAxisIndex: i, symbolSize: 7,
                     connectNulls: false, data: versions.map(function (v) { return v.scores[d]; })});
      });
      titles.unshift({text: el.dataset.title, left: "center", top: 0, textStyle: {fontSize: 13}});
      c.setOption({
        animation: false,
        title: titles,
        tooltip: {trigger: "item", formatter: function (p) {
          var value = p.value === null || p.value === undefined ? "—" : Number(p.value).toFixed(3);
          return p.seriesName + " · " + p.name + "：" + value;
        }},
        grid: grids, xAxis: xAxes, yAxis: yAxes, series: series
      });
      var link = el.dataset.link || ("/monitor/quality?resource=" + encodeURIComponent(resource));
      c.on("click", function (p) {
        var v = versions[p.dataIndex];
        if (v) { window.location.href = link + (link.indexOf("?") < 0 ? "?" : "&") + "version=" + v.version; }
      });
    });
  }

  /* A resource's lineage (web/monitor/lineage_view.py): fixed columns, nodes with their own tooltip text,
     a click on a version opens its run. */
  function lineageGraph(data) {
    var c = chart("lineage-graph");
    if (!c || !data) { return; }
    var colours = ["#12355b", "#3d7ea6", "#5b8c5a", "#c08a2d"];
    c.setOption({
      animation: false,
      tooltip: {formatter: function (p) {
        var text = p.dataType === "edge" ? (p.data.label || "") : (p.data.tip || p.name);
        var div = document.createElement("div");
        div.textContent = text;
        return div.innerHTML.replace(/\n/g, "<br>");
      }},
      legend: {data: data.categories, bottom: 0},
      series: [{
        type: "graph", layout: "none", roam: true, edgeSymbol: ["none", "arrow"], edgeSymbolSize: 8,
        categories: data.categories.map(function (name, i) { return {name: name, itemStyle: {color: colours[i]}}; }),
        label: {show: true, position: "right", fontSize: 12},
        edgeLabel: {show: true, fontSize: 10, formatter: function (p) { return p.data.label || ""; }},
        lineStyle: {color: "#8a9bb0", width: 1.5, curveness: 0.05},
        symbolSize: 16,
        data: data.nodes.map(function (n) {
          return {id: n.id, name: n.name, x: n.x, y: n.y, category: n.category, tip: n.tip, href: n.href,
                  symbol: n.href ? "roundRect" : "circle", cursor: n.href ? "pointer" : "default"};
        }),
        links: data.links.map(function (l) {
          return {source: l.source, target: l.target, label: l.label,
                  lineStyle: l.failed ? {color: "#c0392b", type: "dashed"} : undefined};
        })
      }]
    });
    c.on("click", function (p) {
      if (p.dataType === "node" && p.data.href) { window.location.href = p.data.href; }
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

  window.govhubMonitor = {qualityCharts: qualityCharts, volumeCharts: volumeCharts, lineageGraph: lineageGraph};
})();
