/* Dashboard: counters, open orders, recent activity and "Needs attention" follow live.
 *
 * The server sends the dashboard's whole content as one snapshot (on connect, then whenever
 * something the user may see changed, at most every half second): ws/dashboard/, or
 * GET /api/v1/dashboard/ where WebSockets are blocked (static/js/live.js decides). A snapshot
 * replaces what the page shows, so nothing can drift, however many messages were coalesced.
 * The markup built here is the template's (templates/orders/home.html).
 */
import * as live from "./live.js";
import { el, getJSON } from "./common.js";

start();

function start() {
  var root = document.getElementById("dashboard-live");
  if (!root) return;

  function byId(id) {
    return document.getElementById(id);
  }

  function cell(child) {
    var td = el("td");
    if (typeof child === "string") td.textContent = child;
    else td.appendChild(child);
    return td;
  }

  function bar(label, value, total) {
    var wrap = el("label", { class: "bar" });
    wrap.appendChild(el("span", { class: "bar-label" }, label + " " + value + "/" + total));
    wrap.appendChild(el("progress", { max: total, value: value }, value + " of " + total));
    return wrap;
  }

  function progress(row) {
    if (!row.total) return el("span", { class: "muted" }, "No images yet");
    var pair = el("div", { class: "progress-pair" });
    pair.appendChild(bar("Ingested", row.ingested, row.total));
    pair.appendChild(bar("Processed", row.processed, row.total));
    return pair;
  }

  function orderRow(row) {
    var tr = el("tr", { "data-ref": row.ref });
    tr.appendChild(cell(el("a", { href: row.url }, row.ref)));
    tr.appendChild(cell(row.event));
    tr.appendChild(cell(row.customer));
    var status = cell(el("span", { class: "badge status-" + row.status }, row.status_label));
    if (row.attention) {
      status.appendChild(el("span", { class: "attention-flag", "data-testid": "attention-flag" }, row.attention));
    }
    tr.appendChild(status);
    tr.appendChild(cell(progress(row)));
    tr.appendChild(cell(row.assigned_to || "—"));
    return tr;
  }

  function activityItem(entry) {
    var li = el("li");
    li.appendChild(el("a", { href: entry.url }, entry.ref));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(el("span", { class: "what" }, entry.text));
    li.appendChild(document.createTextNode(" "));
    var meta = el("span", { class: "meta" });
    meta.appendChild(el("time", { datetime: entry.at }, entry.at_label));
    if (entry.actor) meta.appendChild(document.createTextNode(" · " + entry.actor));
    li.appendChild(meta);
    return li;
  }

  function replaceChildren(parent, children) {
    while (parent.firstChild) parent.removeChild(parent.firstChild);
    children.forEach(function (child) {
      parent.appendChild(child);
    });
  }

  function setCount(testid, n) {
    var node = document.querySelector('[data-testid="' + testid + '"]');
    if (node) node.textContent = String(n);
  }

  function moreLink(snapshot) {
    var more = byId("dashboard-more");
    var needed = snapshot.open_count > snapshot.orders.length;
    if (!more && needed) {
      more = el("p", { class: "more", id: "dashboard-more" });
      var link = el("a", { href: root.getAttribute("data-list-url") || "/orders/?status=open" });
      link.appendChild(document.createTextNode("All "));
      link.appendChild(el("span", { id: "dashboard-open-count" }));
      link.appendChild(document.createTextNode(" open orders"));
      more.appendChild(link);
      byId("dashboard-no-orders").before(more);
    }
    if (!more) return;
    more.hidden = !needed;
    byId("dashboard-open-count").textContent = String(snapshot.open_count);
  }

  /* "Needs attention": the panel's items and the counter (templates/orders/includes/attention.html). */
  function attentionItem(item) {
    var li = el("li", { class: "level-" + item.level, "data-key": item.key }, item.text);
    (item.links || []).forEach(function (link) {
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("a", { href: link.url }, link.label));
    });
    return li;
  }

  function applyAttention(attention) {
    var list = byId("attention-items");
    if (!attention || !list) return;
    replaceChildren(list, attention.items.map(attentionItem));
    list.hidden = !attention.items.length;
    byId("attention-none").hidden = !!attention.items.length;
    setCount("count-attention", attention.orders + (attention.orders_capped ? "+" : ""));
    var counter = byId("attention-counter");
    if (counter) counter.classList.toggle("attention-count", attention.orders > 0);
  }

  function apply(snapshot) {
    if (snapshot.type !== "dashboard") return;
    setCount("count-total", snapshot.total);
    Object.keys(snapshot.counters).forEach(function (status) {
      setCount("count-" + status, snapshot.counters[status]);
    });
    var table = document.querySelector('[data-testid="order-table"]');
    replaceChildren(byId("dashboard-orders"), snapshot.orders.map(orderRow));
    table.hidden = !snapshot.orders.length;
    byId("dashboard-no-orders").hidden = !!snapshot.orders.length;
    moreLink(snapshot);
    replaceChildren(byId("dashboard-activity"), snapshot.activity.map(activityItem));
    byId("dashboard-activity").hidden = !snapshot.activity.length;
    byId("dashboard-no-activity").hidden = !!snapshot.activity.length;
    applyAttention(snapshot.attention);
  }

  var pollUrl = root.getAttribute("data-poll-url");
  var lastPoll = "";
  live.open({
    wsPath: root.getAttribute("data-ws-path"),
    stateEl: byId("live-state"),
    onMessage: apply,
    poll: function () {
      return getJSON(pollUrl).then(function (snapshot) {
        var text = JSON.stringify(snapshot);
        var changed = text !== lastPoll;
        lastPoll = text;
        if (changed) apply(snapshot);
        return { more: false, changed: changed };
      });
    },
  });
}
