/// The dashboard's one page: HTML, CSS and a little JavaScript, built into
/// the binary (no CDN, no fonts, no build step). The script reads the token
/// from its own URL, follows `/events` and renders each snapshot with
/// `textContent` only, so no value a store or a user wrote runs as markup.
enum DashboardPage {
    static let refused = """
    <!doctype html><html lang="en"><head><meta charset="utf-8"><title>TeaBag agent: token required</title></head>
    <body style="font-family:system-ui,sans-serif;margin:2em">
    <h1>401: token required</h1>
    <p>This dashboard needs its token. Run <code>teabag dashboard</code> and open the URL it prints.</p>
    </body></html>
    """

    static let html = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>TeaBag agent</title>
    <style>
    :root { --fg:#1d2430; --muted:#667085; --line:#e4e7ec; --ok:#127a3e; --bad:#b42318; --warn:#a15c07; --bg:#fafbfc; }
    * { box-sizing: border-box; }
    body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
    header { display: flex; gap: 1.5em; align-items: baseline; padding: .8em 1.2em; border-bottom: 1px solid var(--line); background: #fff; }
    header h1 { font-size: 1.1em; margin: 0; }
    main { padding: 1em 1.2em; display: grid; gap: 1em; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); }
    section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8em 1em; min-width: 0; }
    section.wide { grid-column: 1 / -1; }
    h2 { font-size: 1em; margin: 0 0 .5em; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: .25em .6em .25em 0; border-bottom: 1px solid var(--line); vertical-align: top; }
    th { color: var(--muted); font-weight: 600; }
    td.num { font-variant-numeric: tabular-nums; }
    code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .95em; overflow-wrap: anywhere; }
    .state-connected { color: var(--ok); font-weight: 600; }
    .state-disconnected { color: var(--bad); font-weight: 600; }
    .muted { color: var(--muted); }
    .error { color: var(--bad); }
    #agent-state.down { color: var(--bad); font-weight: 600; }
    input[type=search] { width: 100%; padding: .35em .5em; border: 1px solid var(--line); border-radius: 4px; margin-bottom: .5em; font: inherit; }
    canvas { width: 100%; height: 120px; display: block; }
    .legend span { margin-right: 1em; }
    .swatch { display: inline-block; width: .8em; height: .8em; border-radius: 2px; margin-right: .3em; vertical-align: -1px; }
    @media (max-width: 800px) { main { grid-template-columns: 1fr; } }
    </style>
    </head>
    <body>
    <header>
      <h1>TeaBag agent</h1>
      <span>node <code id="node">…</code></span>
      <span>up <span id="uptime">…</span></span>
      <span id="agent-state">connecting…</span>
    </header>
    <main>
      <section class="wide" id="channels-section"><h2>Channels and stores</h2><div id="channels"></div></section>
      <section><h2>Held paths</h2>
        <input type="search" id="filter" placeholder="filter by channel, type, path or value" autocomplete="off">
        <table><thead><tr><th>channel</th><th>type</th><th>path</th><th>value</th></tr></thead><tbody id="values"></tbody></table>
        <p class="muted" id="values-note"></p>
      </section>
      <section><h2>Pushes and received ops per second</h2>
        <canvas id="chart" width="600" height="120"></canvas>
        <div class="legend muted"><span><i class="swatch" style="background:#2e6fdb"></i>pushes <b id="push-rate">0</b>/s</span><span><i class="swatch" style="background:#d9822b"></i>received <b id="received-rate">0</b>/s</span></div>
        <h2 style="margin-top:1em">Reducers</h2>
        <p id="reducers" class="mono"></p>
        <div id="refused-libraries"></div>
      </section>
      <section class="wide"><h2>Refused writes <span class="muted" id="refused-count"></span></h2>
        <table><thead><tr><th>channel</th><th>type</th><th>path</th><th>reason</th></tr></thead><tbody id="refused"></tbody></table>
      </section>
    </main>
    <script>
    "use strict";
    const token = new URLSearchParams(location.search).get("token") || "";
    let latest = null;

    function el(tag, props, ...children) {
      const node = document.createElement(tag);
      for (const [key, value] of Object.entries(props || {})) {
        if (key === "class") node.className = value;
        else if (key.startsWith("data-")) node.setAttribute(key, value);
        else node[key] = value;
      }
      for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      return node;
    }
    function short(text, max) { return text.length > max ? text.slice(0, max - 1) + "…" : text; }
    function json(value) { return JSON.stringify(value); }
    function ago(ms) {
      if (ms === undefined) return "never";
      if (ms < 1500) return "now";
      const s = Math.round(ms / 1000);
      return s < 120 ? s + " s ago" : Math.round(s / 60) + " min ago";
    }
    function duration(s) { return s < 120 ? s + " s" : s < 7200 ? Math.round(s / 60) + " min" : Math.round(s / 3600) + " h"; }

    function renderChannels(state) {
      const root = document.getElementById("channels");
      root.replaceChildren();
      if (state.session_error) root.append(el("p", {class: "error"}, "session refused: " + state.session_error.name + " " + state.session_error.message));
      if (state.channels.length === 0) root.append(el("p", {class: "muted"}, "no channel yet (the agent has not read its mount table)"));
      for (const channel of state.channels) {
        const rows = channel.stores.map(store => el("tr", {class: "store", "data-store": store.store_id, "data-state": store.state},
          el("td", {}, el("code", {title: store.store_id}, store.store_id.slice(0, 12))),
          el("td", {}, el("code", {}, store.url)),
          el("td", {class: "state-" + store.state}, store.state + (store.retrying ? " (retrying)" : "")),
          el("td", {class: "num"}, store.clock_offset_ms === undefined ? "–" : store.clock_offset_ms + " ms"),
          el("td", {class: "num"}, store.outbox),
          el("td", {}, store.state === "connected" && store.outbox === 0 ? "in sync" : ago(store.last_sync_ms_ago)),
          el("td", {class: "error"}, store.last_error ? store.last_error.name + ": " + store.last_error.message : "")));
        root.append(el("h3", {}, "channel " + channel.name + " ", el("span", {class: "muted"}, channel.paths + " paths held")),
          el("table", {"data-channel": channel.name},
            el("thead", {}, el("tr", {}, ...["store", "url", "connection", "clock offset", "outbox", "last in sync", "last error"].map(h => el("th", {}, h)))),
            el("tbody", {}, ...rows)));
      }
    }

    function renderValues(state) {
      const filter = document.getElementById("filter").value.trim().toLowerCase();
      const body = document.getElementById("values");
      const rows = [];
      let total = 0;
      for (const channel of state.channels) {
        for (const item of channel.values) {
          total += 1;
          const text = json(item.value);
          const haystack = (channel.name + " " + item.type + " " + item.path + " " + text).toLowerCase();
          if (filter && !haystack.includes(filter)) continue;
          rows.push(el("tr", {class: "value", "data-path": item.path, "data-type": item.type},
            el("td", {}, channel.name), el("td", {}, item.type), el("td", {}, el("code", {}, item.path)),
            el("td", {}, el("code", {title: text}, short(text, 160)))));
        }
      }
      body.replaceChildren(...rows);
      document.getElementById("values-note").textContent = filter ? rows.length + " of " + total + " paths" : total + " paths";
    }

    function renderRefused(state) {
      document.getElementById("refused-count").textContent = state.failed_write_count ? "(" + state.failed_write_count + " since start)" : "";
      const rows = state.failed_writes.slice().reverse().map(f => el("tr", {class: "refused", "data-path": f.path},
        el("td", {}, f.channel), el("td", {}, f.type), el("td", {}, el("code", {}, f.path)),
        el("td", {class: "error"}, f.error.name + ": " + f.error.message)));
      if (rows.length === 0) rows.push(el("tr", {}, el("td", {colSpan: 4, class: "muted"}, "none")));
      document.getElementById("refused").replaceChildren(...rows);
    }

    function renderPlugins(state) {
      document.getElementById("reducers").textContent = state.plugins.types.join(", ") || "none loaded";
      const refused = state.plugins.refused.map(r => el("p", {class: "error refused-library"}, "refused: " + r));
      document.getElementById("refused-libraries").replaceChildren(...refused);
    }

    function renderChart(state) {
      const canvas = document.getElementById("chart");
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth * ratio, height = canvas.clientHeight * ratio;
      if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
      const g = canvas.getContext("2d");
      g.clearRect(0, 0, width, height);
      const series = [[state.rates.pushes, "#2e6fdb"], [state.rates.received, "#d9822b"]];
      const top = Math.max(1, ...state.rates.pushes, ...state.rates.received);
      g.strokeStyle = "#e4e7ec"; g.lineWidth = 1;
      g.beginPath(); g.moveTo(0, height - 0.5); g.lineTo(width, height - 0.5); g.stroke();
      g.fillStyle = "#667085"; g.font = (11 * ratio) + "px system-ui, sans-serif"; g.fillText(top + "/s", 4, 12 * ratio);
      for (const [points, color] of series) {
        g.strokeStyle = color; g.lineWidth = 2 * ratio; g.beginPath();
        // The last minute, spread over the width once there is a full minute.
        const step = width / Math.max(Math.min(points.length, 60) - 1, 1);
        points.forEach((v, i) => {
          const x = width - (points.length - 1 - i) * step;
          const y = height - 2 - (v / top) * (height - 18 * ratio);
          if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
        });
        g.stroke();
      }
      const last = a => a.length ? a[a.length - 1] : 0;
      document.getElementById("push-rate").textContent = last(state.rates.pushes);
      document.getElementById("received-rate").textContent = last(state.rates.received);
    }

    function render(state) {
      latest = state;
      document.getElementById("node").textContent = state.node || "?";
      document.getElementById("uptime").textContent = duration(state.uptime_s);
      renderChannels(state); renderValues(state); renderRefused(state); renderPlugins(state); renderChart(state);
    }

    document.getElementById("filter").addEventListener("input", () => { if (latest) renderValues(latest); });
    const agentState = document.getElementById("agent-state");
    const events = new EventSource("/events?token=" + encodeURIComponent(token));
    events.addEventListener("state", event => {
      agentState.textContent = "live"; agentState.className = "";
      render(JSON.parse(event.data));
    });
    events.onerror = () => { agentState.textContent = "agent unreachable (retrying)"; agentState.className = "down"; };
    </script>
    </body>
    </html>
    """
}
