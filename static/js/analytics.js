/* Analytics dashboard: draws the charts from the numbers the page carries.
 *
 * The server renders the figures into <script id="analytics-data"> (the same
 * structure as /analytics/data.json), so the page needs no second request and
 * the table under the charts shows the very same numbers. Chart.js comes from
 * the npm package, served under /static/vendor/chartjs/ (no CDN). Its ES module build imports
 * a bare package name (@kurkle/color) that a browser cannot resolve without a bundler or an
 * import map, so the page loads the UMD build (a classic deferred script, which runs before
 * this module) and this module reads the one global it defines, window.Chart.
 */
start();

function start() {
  var source = document.getElementById("analytics-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var Chart = window.Chart;

  var COLORS = {
    blue: "#1f5fbf",
    teal: "#1b8a7a",
    orange: "#d9822b",
    red: "#c0392b",
    purple: "#7d4cb8",
    grey: "#8a94a6",
  };
  var PALETTE = [COLORS.blue, COLORS.teal, COLORS.orange, COLORS.purple, COLORS.red, COLORS.grey];

  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.maintainAspectRatio = false;
  // The dashboard is read, not watched: no animation delays the numbers.
  Chart.defaults.animation = false;

  var labels = data.days.map(function (d) { return d.date; });

  function column(name, scale) {
    return data.days.map(function (d) {
      var v = d[name];
      return v === null || v === undefined ? null : v * (scale || 1);
    });
  }

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return null;
    }
    var chart = new Chart(canvas, config);
    canvas.dataset.ready = "1";
    return chart;
  }

  var dayAxis = { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 10 } };

  draw("chart-volume", {
    type: "bar",
    data: {
      labels: labels,
      datasets: [
        { label: "Orders", data: column("orders"), backgroundColor: COLORS.blue, yAxisID: "y" },
        {
          label: "Images",
          data: column("images"),
          type: "line",
          borderColor: COLORS.teal,
          backgroundColor: COLORS.teal,
          yAxisID: "images",
          tension: 0.2,
        },
      ],
    },
    options: {
      scales: {
        x: dayAxis,
        y: {
          beginAtZero: true,
          grace: "10%",
          title: { display: true, text: "orders" },
          ticks: { precision: 0 },
        },
        images: {
          beginAtZero: true,
          grace: "10%",
          position: "right",
          grid: { drawOnChartArea: false },
          title: { display: true, text: "images" },
          ticks: { precision: 0 },
        },
      },
    },
  });

  draw("chart-completion", {
    type: "line",
    data: {
      labels: labels,
      datasets: [
        {
          label: "Median",
          data: column("completion_median_s", 1 / 60),
          borderColor: COLORS.blue,
          backgroundColor: COLORS.blue,
          spanGaps: true,
        },
        {
          label: "90th percentile",
          data: column("completion_p90_s", 1 / 60),
          borderColor: COLORS.orange,
          backgroundColor: COLORS.orange,
          spanGaps: true,
        },
      ],
    },
    options: {
      scales: { x: dayAxis, y: { beginAtZero: true, title: { display: true, text: "minutes" } } },
    },
  });

  draw("chart-cost-day", {
    type: "bar",
    data: {
      labels: labels,
      datasets: [{ label: "AI cost (USD)", data: column("ai_cost_usd"), backgroundColor: COLORS.purple }],
    },
    options: {
      plugins: { legend: { display: false } },
      scales: { x: dayAxis, y: { beginAtZero: true, title: { display: true, text: "USD" } } },
    },
  });

  draw("chart-cost-preset", {
    type: "bar",
    data: {
      labels: data.presets.map(function (p) { return p.preset; }),
      datasets: [
        {
          label: "AI cost (USD)",
          data: data.presets.map(function (p) { return p.ai_cost_usd; }),
          backgroundColor: data.presets.map(function (_, i) { return PALETTE[i % PALETTE.length]; }),
        },
      ],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, title: { display: true, text: "USD" } } },
    },
  });

  draw("chart-quality", {
    type: "line",
    data: {
      labels: labels,
      datasets: [
        {
          label: "Fallback",
          data: column("fallback_share", 100),
          borderColor: COLORS.orange,
          backgroundColor: COLORS.orange,
        },
        {
          label: "Review",
          data: column("review_share", 100),
          borderColor: COLORS.red,
          backgroundColor: COLORS.red,
        },
        {
          label: "Fallback or review",
          data: column("fallback_or_review_share", 100),
          borderColor: COLORS.grey,
          backgroundColor: COLORS.grey,
          borderDash: [6, 4],
        },
      ],
    },
    options: {
      scales: {
        x: dayAxis,
        y: { beginAtZero: true, suggestedMax: 100, title: { display: true, text: "% of images" } },
      },
    },
  });

  draw("chart-pmr", {
    type: "bar",
    data: {
      labels: labels,
      datasets: [
        { label: "Waiting", data: column("pmr_backlog"), backgroundColor: COLORS.blue },
        { label: "Failed", data: column("pmr_failures"), backgroundColor: COLORS.red },
      ],
    },
    options: {
      scales: { x: dayAxis, y: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });

  document.documentElement.dataset.analyticsReady = "1";
}
