/* VIP tiers dashboard: draws the embedded mart data with plotly.js (inlined, no network).
 *
 * #dashboard-status[data-status] is "loading", then "ok" once every chart has drawn data,
 * "empty" (data-detail names the charts with nothing to show) or "error" (a script error).
 * data-render-count counts finished renders (one per program / scenario choice).
 */
(function () {
  "use strict";

  var statusEl = document.getElementById("dashboard-status");
  var renderCount = 0;

  function setStatus(status, detail) {
    if (statusEl.dataset.status === "error" && status !== "error") {
      return; // an error stays visible
    }
    statusEl.dataset.status = status;
    statusEl.dataset.detail = detail || "";
    statusEl.textContent = status === "ok" ? "" : status + (detail ? ": " + detail : "");
  }

  window.addEventListener("error", function (event) {
    setStatus("error", event.message || "script error");
  });
  window.addEventListener("unhandledrejection", function (event) {
    setStatus("error", String(event.reason && event.reason.message ? event.reason.message : event.reason));
  });

  var DATA = JSON.parse(document.getElementById("dashboard-data").textContent);
  var TIER_COLORS = ["#9aa5b1", "#4c9be8", "#f2b632", "#8e5cd9", "#2bb673", "#e8684a", "#00a3a3"];
  var PLOT_CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  var BASE_LAYOUT = {
    margin: { l: 56, r: 24, t: 12, b: 48 },
    paper_bgcolor: "#ffffff",
    plot_bgcolor: "#ffffff",
    font: { size: 12, color: "#1f2933" },
    legend: { orientation: "h", y: -0.18 },
  };
  var integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
  var decimal = new Intl.NumberFormat("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var percent = new Intl.NumberFormat("en", { style: "percent", maximumFractionDigits: 1 });

  var programSelect = document.getElementById("program-select");
  var scenarioSelect = document.getElementById("scenario-select");

  function layout(extra) {
    return Object.assign({}, BASE_LAYOUT, extra || {});
  }

  function tierColor(rank) {
    return TIER_COLORS[rank % TIER_COLORS.length];
  }

  function currentProgram() {
    return DATA.programs.find(function (p) { return p.program_id === programSelect.value; }) || DATA.programs[0];
  }

  function currentScenario(program) {
    return program.scenarios.find(function (s) { return s.id === scenarioSelect.value; }) || program.scenarios[0];
  }

  function liveScenario(program) {
    return program.scenarios.find(function (s) { return s.is_live; }) || program.scenarios[0];
  }

  function text(value) {
    return value === null || value === undefined ? "" : String(value);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function fillTable(table, headers, rows, selectedIndex, textColumns) {
    var left = textColumns || [0];
    table.replaceChildren();
    table.appendChild(el("thead", {}, [el("tr", {}, headers.map(function (h, i) {
      return el("th", left.indexOf(i) >= 0 ? { class: "text" } : {}, [h]);
    }))]));
    var body = el("tbody");
    rows.forEach(function (row, index) {
      var tr = el("tr", index === selectedIndex ? { class: "selected" } : {});
      row.forEach(function (cell, i) {
        if (cell && typeof cell === "object") {
          tr.appendChild(el("td", cell.attrs || {}, [text(cell.text)]));
        } else {
          tr.appendChild(el("td", i === 0 ? { class: "text" } : {}, [text(cell)]));
        }
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function withDelta(value, live, format) {
    var shown = format.format(value);
    if (live === null || live === undefined || value === live) {
      return { text: shown };
    }
    var delta = value - live;
    return {
      text: shown + " (" + (delta > 0 ? "+" : "−") + format.format(Math.abs(delta)) + ")",
      attrs: { class: delta > 0 ? "delta-up" : "delta-down" },
    };
  }

  // ---- charts -------------------------------------------------------------------------------

  function distributionFigure(scenario) {
    var dist = scenario.distribution;
    var traces = scenario.tiers.map(function (tier) {
      return {
        type: "scatter",
        mode: "lines",
        stackgroup: "tiers",
        name: tier.name,
        x: dist.dates,
        y: dist.series[tier.code] || [],
        line: { width: 0.5, color: tierColor(tier.rank) },
        hovertemplate: "%{y:,} " + tier.name + "<extra></extra>",
      };
    });
    return { data: traces, layout: layout({ hovermode: "x unified", yaxis: { title: { text: "members" }, rangemode: "tozero" } }) };
  }

  function monthLabel(month) {
    return month.month.slice(0, 7) + (month.complete ? "" : "*");
  }

  function movementsFigure(scenario) {
    var months = scenario.movements.months;
    var x = months.map(monthLabel);
    function bar(name, values, color) {
      return { type: "bar", name: name, x: x, y: values, marker: { color: color }, hovertemplate: "%{y:,} " + name.toLowerCase() + "<extra></extra>" };
    }
    var churn = months.map(function (m) { return m.opening > 0 ? m.churned / m.opening : null; });
    return {
      data: [
        bar("New members", months.map(function (m) { return m.new; }), "#4c9be8"),
        bar("Upgrades", months.map(function (m) { return m.upgrades; }), "#2bb673"),
        bar("Downgrades", months.map(function (m) { return -m.downgrades; }), "#f2994a"),
        bar("Exits", months.map(function (m) { return -m.exits; }), "#c62828"),
        {
          type: "scatter", mode: "lines+markers", name: "Churn rate", x: x, y: churn, yaxis: "y2",
          line: { color: "#1f2933", width: 1.5 }, marker: { size: 4 },
          hovertemplate: "churn %{y:.1%}<extra></extra>",
        },
      ],
      layout: layout({
        barmode: "relative",
        hovermode: "x unified",
        yaxis: { title: { text: "members" }, zeroline: true },
        yaxis2: { title: { text: "churn" }, overlaying: "y", side: "right", tickformat: ".0%", rangemode: "tozero", showgrid: false },
        margin: { l: 56, r: 56, t: 12, b: 48 },
      }),
    };
  }

  function migrationsFigure(scenario) {
    var order = scenario.tiers.map(function (t) { return t.code; });
    var names = {};
    scenario.tiers.forEach(function (t) { names[t.code] = t.name; });
    var rows = ["(new member)"].concat(order);
    var cols = order.concat(["(exit)"]);
    var z = rows.map(function (from) {
      return cols.map(function (to) {
        var cell = scenario.migrations.cells.find(function (c) { return c.from === from && c.to === to; });
        return cell ? cell.movements : 0;
      });
    });
    function label(code) { return names[code] || code; }
    return {
      data: [{
        type: "heatmap",
        x: cols.map(label),
        y: rows.map(label),
        z: z,
        colorscale: [[0, "#f4f7fd"], [0.15, "#c9d8f5"], [1, "#2f55c8"]],
        texttemplate: "%{z:,}",
        hovertemplate: "%{y} → %{x}: %{z:,}<extra></extra>",
        showscale: false,
      }],
      layout: layout({
        xaxis: { title: { text: "to" }, side: "bottom" },
        yaxis: { title: { text: "from" }, autorange: "reversed" },
        margin: { l: 110, r: 24, t: 12, b: 48 },
      }),
    };
  }

  function scenariosFigure(program, selected) {
    var scenarioIds = program.scenarios.map(function (s) { return s.id; });
    var byRank = {};
    program.comparison.forEach(function (row) {
      var entry = byRank[row.tier_rank] || (byRank[row.tier_rank] = { name: row.tier_name, values: {}, names: {} });
      entry.values[row.scenario_id] = row.members;
      entry.names[row.scenario_id] = row.tier_name;
      if (row.is_live) { entry.name = row.tier_name; }
    });
    var traces = Object.keys(byRank).map(Number).sort(function (a, b) { return a - b; }).map(function (rank) {
      var entry = byRank[rank];
      return {
        type: "bar",
        name: entry.name,
        x: scenarioIds,
        y: scenarioIds.map(function (id) { return entry.values[id] || 0; }),
        customdata: scenarioIds.map(function (id) { return entry.names[id] || ""; }),
        marker: { color: tierColor(rank) },
        hovertemplate: "%{x}: %{y:,} in %{customdata}<extra></extra>",
      };
    });
    return {
      data: traces,
      layout: layout({
        barmode: "stack",
        yaxis: { title: { text: "members" } },
        xaxis: { tickangle: -30, automargin: true },
        legend: { orientation: "h", y: 1.12 },
        margin: { l: 56, r: 24, t: 36, b: 24 },
        shapes: [highlight(scenarioIds, selected.id)],
      }),
    };
  }

  function highlight(categories, selected) {
    var index = categories.indexOf(selected);
    return {
      type: "rect", xref: "x", yref: "paper", x0: index - 0.5, x1: index + 0.5, y0: 0, y1: 1,
      fillcolor: "rgba(62, 99, 221, 0.08)", line: { width: 0 }, layer: "below",
    };
  }

  function scenarioTotals(program) {
    var totals = {};
    program.scenarios.forEach(function (s) {
      totals[s.id] = { up: 0, down: 0, changed: 0, above: 0, bonusHeld: 0, bonusToDate: 0, birthday: 0, exposure: 0, members: 0 };
    });
    program.comparison.forEach(function (row) {
      var t = totals[row.scenario_id];
      if (!t) { return; }
      t.up += row.members_up_vs_live;
      t.down += row.members_down_vs_live;
      t.changed += row.members_changed_vs_live;
      t.members += row.members;
      if (row.tier_rank > 0) { t.above += row.members; }
      t.bonusHeld += row.entry_bonus_points_held;
      t.bonusToDate += row.entry_bonus_points_to_date;
      t.birthday += row.birthday_points_per_year;
      t.exposure += row.multiplier_exposure;
    });
    return totals;
  }

  function scenarioShiftFigure(program, selected) {
    var ids = program.scenarios.map(function (s) { return s.id; });
    var totals = scenarioTotals(program);
    return {
      data: [
        { type: "bar", name: "Higher tier than live", x: ids, y: ids.map(function (id) { return totals[id].up; }), marker: { color: "#2bb673" }, hovertemplate: "%{x}: %{y:,} higher<extra></extra>" },
        { type: "bar", name: "Lower tier than live", x: ids, y: ids.map(function (id) { return -totals[id].down; }), marker: { color: "#c62828" }, hovertemplate: "%{x}: %{y:,} lower<extra></extra>" },
      ],
      layout: layout({
        barmode: "relative",
        yaxis: { title: { text: "members" }, zeroline: true },
        xaxis: { tickangle: -30, automargin: true },
        legend: { orientation: "h", y: 1.12 },
        margin: { l: 56, r: 24, t: 36, b: 24 },
        shapes: [highlight(ids, selected.id)],
      }),
    };
  }

  function closestFigure(program) {
    var rows = program.closest;
    return {
      data: [{
        type: "bar",
        orientation: "h",
        x: rows.map(function (r) { return r.amount_to_next_tier; }),
        y: rows.map(function (r) { return r.customer_id; }),
        text: rows.map(function (r) { return r.tier_code + " → " + r.next_tier_code; }),
        textposition: "outside",
        cliponaxis: false,
        marker: { color: rows.map(function (r) { return tierColor(rankOf(program, r.next_tier_code)); }) },
        hovertemplate: "%{y}: %{x:,.2f} to %{text}<extra></extra>",
      }],
      layout: layout({
        yaxis: { autorange: "reversed", type: "category" },
        xaxis: { title: { text: "still needed (" + liveScenario(program).unit + ")" } },
        margin: { l: 96, r: 96, t: 12, b: 48 },
      }),
    };
  }

  function rankOf(program, code) {
    var tier = liveScenario(program).tiers.find(function (t) { return t.code === code; });
    return tier ? tier.rank : 1;
  }

  // ---- tables and figures -------------------------------------------------------------------

  function kpis(program, scenario) {
    var container = document.getElementById("kpis");
    container.replaceChildren();
    var dist = scenario.distribution;
    var last = dist.dates.length - 1;
    var total = 0;
    var above = 0;
    scenario.tiers.forEach(function (tier) {
      var series = dist.series[tier.code] || [];
      var value = last >= 0 ? series[last] || 0 : 0;
      total += value;
      if (tier.rank > 0) { above += value; }
    });
    var complete = scenario.movements.months.filter(function (m) { return m.complete; });
    var lastComplete = complete[complete.length - 1];
    var churn = lastComplete && lastComplete.opening > 0 ? percent.format(lastComplete.churned / lastComplete.opening) : "–";
    var totals = scenarioTotals(program)[scenario.id];
    var cards = [
      [integer.format(total), "members with a tier on " + text(dist.dates[last])],
      [integer.format(above) + (total ? " (" + percent.format(above / total) + ")" : ""), "members above the base tier"],
      [churn, "churn in " + (lastComplete ? lastComplete.month.slice(0, 7) : "–") + " (downgrades + exits)"],
      [scenario.is_live ? "live" : integer.format(totals.up) + " up / " + integer.format(totals.down) + " down", scenario.is_live ? "scenario shown" : "members moved vs live"],
    ];
    cards.forEach(function (card) {
      container.appendChild(el("div", { class: "kpi" }, [el("div", { class: "value" }, [card[0]]), el("div", { class: "label" }, [card[1]])]));
    });
  }

  function movementsTable(scenario) {
    var month = scenario.movements.last_month;
    var complete = scenario.movements.months.length && scenario.movements.months[scenario.movements.months.length - 1].complete;
    document.getElementById("movements-table-title").textContent =
      "Movements by tier in " + (month ? month.slice(0, 7) : "–") + (complete ? "" : " (to date)");
    fillTable(
      document.getElementById("movements-table"),
      ["Tier", "Opening", "New", "Upgrades in", "Downgrades in", "Upgrades out", "Downgrades out", "Exits", "Closing"],
      scenario.movements.last_month_tiers.map(function (r) {
        return [r.tier_name, r.opening_members, r.new_members, r.upgrades_in, r.downgrades_in, r.upgrades_out, r.downgrades_out, r.exits, r.closing_members].map(function (v, i) {
          return i === 0 ? v : integer.format(v);
        });
      })
    );
  }

  function scenarioTable(program, scenario) {
    var totals = scenarioTotals(program);
    var live = totals[liveScenario(program).id];
    var ids = program.scenarios.map(function (s) { return s.id; });
    fillTable(
      document.getElementById("scenario-table"),
      ["Scenario", "Description", "Above base", "Higher than live", "Lower than live", "Entry bonus held", "Entry bonus to date", "Birthday pts / year", "Multiplier exposure"],
      program.scenarios.map(function (s) {
        var t = totals[s.id];
        return [
          s.id,
          { text: s.description, attrs: { class: "text" } },
          withDelta(t.above, live.above, integer),
          integer.format(t.up),
          integer.format(t.down),
          withDelta(t.bonusHeld, live.bonusHeld, integer),
          withDelta(t.bonusToDate, live.bonusToDate, integer),
          withDelta(t.birthday, live.birthday, integer),
          withDelta(t.exposure, live.exposure, decimal),
        ];
      }),
      ids.indexOf(scenario.id),
      [0, 1]
    );
  }

  function closestTable(program) {
    fillTable(
      document.getElementById("closest-table"),
      ["Member", "Tier", "Next tier", "Still needed", "Window total", "Review on"],
      program.closest.map(function (r) {
        return [r.customer_id, { text: r.tier_code, attrs: { class: "text" } }, { text: r.next_tier_code, attrs: { class: "text" } }, decimal.format(r.amount_to_next_tier), decimal.format(r.window_total), r.review_on || "–"];
      }),
      -1,
      [0, 1, 2]
    );
  }

  function pointCount(figure) {
    return figure.data.reduce(function (sum, trace) {
      var values = trace.type === "heatmap" ? [].concat.apply([], trace.z) : (trace.orientation === "h" ? trace.x : trace.y);
      return sum + (values || []).filter(function (v) { return v !== null && v !== undefined && !Number.isNaN(v); }).length;
    }, 0);
  }

  function draw(id, figure) {
    var node = document.getElementById(id);
    if (pointCount(figure) === 0) {
      if (node.data) { Plotly.purge(node); }
      node.replaceChildren(el("div", { class: "empty-message" }, ["No data to show"]));
      node.dataset.points = "0";
      return Promise.resolve(id);
    }
    var message = node.querySelector(".empty-message");
    if (message) { message.remove(); }
    node.dataset.points = String(pointCount(figure));
    return Plotly.react(node, figure.data, figure.layout, PLOT_CONFIG).then(function () { return null; });
  }

  function render() {
    var program = currentProgram();
    var scenario = currentScenario(program);
    setStatus("loading");
    document.getElementById("subtitle").textContent =
      program.name + " · scenario " + scenario.id + " · as of " + text(program.as_of);
    document.getElementById("migrations-note").textContent =
      "From tier → to tier since " + text(scenario.migrations.since).slice(0, 7) + " (every change counts).";
    kpis(program, scenario);
    movementsTable(scenario);
    scenarioTable(program, scenario);
    closestTable(program);
    var figures = [
      ["chart-distribution", distributionFigure(scenario)],
      ["chart-movements", movementsFigure(scenario)],
      ["chart-migrations", migrationsFigure(scenario)],
      ["chart-scenarios", scenariosFigure(program, scenario)],
      ["chart-scenario-shift", scenarioShiftFigure(program, scenario)],
      ["chart-closest", closestFigure(program)],
    ];
    return Promise.all(figures.map(function (f) { return draw(f[0], f[1]); })).then(function (results) {
      var empty = results.filter(function (r) { return r !== null; });
      renderCount += 1;
      statusEl.dataset.renderCount = String(renderCount);
      statusEl.dataset.charts = String(figures.length);
      setStatus(empty.length ? "empty" : "ok", empty.join(","));
    });
  }

  function fillScenarios() {
    var program = currentProgram();
    var previous = scenarioSelect.value;
    scenarioSelect.replaceChildren();
    program.scenarios.forEach(function (s) {
      scenarioSelect.appendChild(el("option", { value: s.id }, [s.id + (s.is_live ? " (live)" : "")]));
    });
    var keep = program.scenarios.some(function (s) { return s.id === previous; });
    scenarioSelect.value = keep ? previous : liveScenario(program).id;
  }

  DATA.programs.forEach(function (p) {
    programSelect.appendChild(el("option", { value: p.program_id }, [p.name]));
  });
  document.getElementById("footer").textContent =
    "Generated " + DATA.generated_at + " from the warehouse BI marts (fct_tier_distribution_daily, " +
    "fct_tier_movements_monthly, fct_tier_migrations_monthly, fct_scenario_comparison, " +
    "dim_customer_tier_current). Works offline.";
  programSelect.addEventListener("change", function () { fillScenarios(); render(); });
  scenarioSelect.addEventListener("change", function () { render(); });
  fillScenarios();
  render();
})();
