import assert from "node:assert/strict";
import { Router } from "./router.ts";

Deno.test("Router.match() finds literal and parameter routes, decodes parameters, and reports other methods", () => {
  const r = new Router<string>()
    .add("GET", "/api/alerts", "list")
    .add("GET", "/api/alerts/recent", "recent")
    .add("GET", "/api/alerts/:id", "one")
    .add("DELETE", "/api/blocks/:target", "unblock");
  assert.deepEqual(r.match("GET", "/api/alerts"), {
    kind: "found",
    route: r.routes[0],
    params: {},
  });
  const recent = r.match("GET", "/api/alerts/recent");
  assert.equal(recent.kind === "found" && recent.route.handler, "recent");
  const one = r.match("HEAD", "/api/alerts/01ABC");
  assert.deepEqual(one.kind === "found" && one.params, { id: "01ABC" });
  const cidr = r.match("DELETE", "/api/blocks/10.0.0.0%2F24");
  assert.deepEqual(cidr.kind === "found" && cidr.params, {
    target: "10.0.0.0/24",
  });
  assert.deepEqual(r.match("POST", "/api/blocks/1.2.3.4"), {
    kind: "method",
    allowed: ["DELETE"],
  });
  assert.deepEqual(r.match("GET", "/api/alerts/"), { kind: "none" });
  assert.deepEqual(r.match("GET", "/api/blocks/%E0%A4%A"), { kind: "none" });
  assert.deepEqual(r.match("GET", "/api/alerts/a/b"), { kind: "none" });
});
