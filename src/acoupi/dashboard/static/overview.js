// Overview: hourly chart (uPlot) and live numbers, polled while the page is open.
(function () {
  "use strict";
  var POLL_MS = 5000;
  var hours = 24;
  var plot = null;
  var COLOURS = ["#2f6f4f", "#d1495b", "#00798c", "#edae49", "#66a182", "#8d6a9f"];

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }

  function drawChart(data) {
    var el = document.getElementById("chart");
    if (!el || typeof uPlot === "undefined") return;
    var series = [{}];
    var values = [data.x];
    data.series.forEach(function (s, i) {
      series.push({ label: s.tag, stroke: COLOURS[i % COLOURS.length], width: 2, fill: COLOURS[i % COLOURS.length] + "22" });
      values.push(s.counts);
    });
    if (data.series.length === 0) {
      series.push({ label: "detections", stroke: "#999" });
      values.push(data.x.map(function () { return 0; }));
    }
    var opts = {
      width: Math.max(280, el.clientWidth), height: 220, series: series,
      scales: { x: { time: true } }, axes: [{}, { label: "per hour" }],
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); }
    };
    if (plot) plot.destroy();
    el.innerHTML = "";
    plot = new uPlot(opts, values, el);
    el.dataset.points = String(data.x.length);
    el.dataset.series = data.series.map(function (s) { return s.tag; }).join(",");
  }

  function loadChart() {
    return getJSON("/api/chart?hours=" + hours).then(drawChart).catch(function () {});
  }

  function setText(id, value) {
    var el = document.getElementById(id);
    if (el && value !== undefined && value !== null) el.textContent = String(value);
  }

  function refresh() {
    getJSON("/api/overview").then(function (d) {
      setText("recording-text", d.recording.text);
      var banner = document.getElementById("recording-state");
      if (banner) banner.className = "banner " + d.recording.level;
      setText("today-detections", d.today.detections);
      setText("total-recordings", d.totals.recordings);
      setText("total-detections", d.totals.detections);
      if (d.messages) { setText("messages-pending", d.messages.pending); setText("messages-sent", d.messages.sent); }
      if (d.status && d.status.backlog !== undefined && d.status.backlog !== null) setText("backlog", d.status.backlog);
      var table = document.getElementById("today-by-tag");
      if (table) {
        var rows = Object.keys(d.today.by_tag).map(function (tag) {
          return "<tr><td><a href=\"/detections?tag=" + encodeURIComponent(tag) + "&since=today\">" +
            tag.replace(/[&<>"]/g, "") + "</a></td><td class=\"num\">" + d.today.by_tag[tag] + "</td></tr>";
        });
        table.innerHTML = rows.join("") || "<tr><td colspan=\"2\" class=\"muted\">Nothing heard yet today.</td></tr>";
      }
      document.body.dataset.updated = d.now;
    }).catch(function () {});
    loadChart();
  }

  document.querySelectorAll(".switch button").forEach(function (b) {
    b.addEventListener("click", function () {
      document.querySelectorAll(".switch button").forEach(function (o) { o.classList.remove("active"); });
      b.classList.add("active");
      hours = parseInt(b.dataset.hours, 10);
      loadChart();
    });
  });
  loadChart();
  setInterval(function () { if (!document.hidden) refresh(); }, POLL_MS);
})();
