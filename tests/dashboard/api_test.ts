/**
 * The dashboard's HTTP surface against the real server on an ephemeral
 * loopback port, over a real KV store, blocker and pipeline: sign-in,
 * authentication on every route but the public two, origin checks,
 * validation answers naming the field, CSV export escaping, tokens,
 * blocks, the allowlist, policy, stats, hosts, detect, replay, metrics,
 * health and the live WebSocket.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Alert } from "../../alerts/alert.ts";
import {
  signIn,
  startAppliance,
  TEST_PASSWORD,
  waitFor,
} from "./_appliance.ts";
import { writeDashboardCapture } from "./_captures.ts";

function alertWith(
  n: number,
  o: {
    src?: string;
    severity?: 1 | 2 | 3 | 4;
    host?: string;
    evidence?: Record<string, unknown>;
  } = {},
): Alert {
  const ts = new Date(Date.now() - 60_000 + n * 100).toISOString();
  return {
    timestamp: ts,
    event_type: "alert",
    src_ip: o.src ?? "198.51.100.7",
    src_port: 40000,
    dest_ip: "192.168.1.20",
    dest_port: 22,
    proto: "TCP",
    alert: {
      action: "allowed",
      signature_id: 1000100 + n,
      rev: 1,
      signature: "SSH brute force",
      category: "Attempted Administrator Privilege Gain",
      severity: o.severity ?? 1,
    },
    netsentinel: {
      id: "01JTEST" + String(n).padStart(19, "0"),
      type: "brute_force",
      count: 12,
      first_seen: ts,
      last_seen: ts,
      evidence: o.evidence ?? { attempts: 12 },
      explanation: "12 SSH logins in 30 s.",
      ...(o.host === undefined ? {} : { src_host: o.host }),
    },
  };
}

async function text(res: Response): Promise<string> {
  return await res.text();
}

Deno.test("every route but /health and the sign-in page needs a session or a token", async () => {
  await using app = await startAppliance();
  const routes = app.server.dashboard.routes;
  assert.ok(routes.length >= 30, `only ${routes.length} routes`);
  for (const r of routes) {
    const path = r.pattern
      .replace(":id", "01JTEST0000000000000000001")
      .replace(":target", "203.0.113.9")
      .replace(":cidr", "203.0.113.0%2F24")
      .replace(":ip", "203.0.113.9");
    const res = await fetch(app.url + path, {
      method: r.method,
      redirect: "manual",
      headers: { origin: app.url },
    });
    await res.body?.cancel();
    if (path === "/health" || path === "/signin") {
      assert.ok(
        res.status < 400 || path === "/signin" && r.method === "POST",
        `${r.method} ${path}: ${res.status}`,
      );
      continue;
    }
    if (
      r.method === "GET" && !path.startsWith("/api/") && path !== "/metrics" &&
      path !== "/ws/live"
    ) {
      assert.equal(res.status, 303, `${r.method} ${path}`);
      assert.match(res.headers.get("location") ?? "", /^\/signin\?next=/);
    } else {
      assert.equal(res.status, 401, `${r.method} ${path}`);
    }
  }
  // A wrong token is refused too, and the public health answer says nothing secret.
  const bad = await fetch(app.url + "/api/alerts", {
    headers: { authorization: "Bearer nst_not-a-real-token" },
  });
  assert.equal(bad.status, 401);
  await bad.body?.cancel();
  const health = await (await fetch(app.url + "/health")).json();
  assert.equal(health.parts.kv.state, "up");
  assert.equal(health.parts.blocker.state, "unavailable");
});

Deno.test("sign-in sets a strict HttpOnly cookie, refuses wrong passwords and rate-limits an address", async () => {
  await using app = await startAppliance({ signinMax: 3 });
  const res = await fetch(app.url + "/signin", {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: app.url,
    },
    body: new URLSearchParams({
      user: "admin",
      password: TEST_PASSWORD,
      next: "/alerts",
    }),
  });
  await res.body?.cancel();
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/alerts");
  const cookie = res.headers.get("set-cookie") ?? "";
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.doesNotMatch(cookie, /Secure/, "no Secure flag over plain HTTP");
  assert.match(
    res.headers.get("content-security-policy") ?? "",
    /script-src 'self'/,
  );

  // An open redirect through `next` is refused.
  const evil = await fetch(app.url + "/signin", {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: app.url,
    },
    body: new URLSearchParams({
      user: "admin",
      password: TEST_PASSWORD,
      next: "//evil.example/",
    }),
  });
  await evil.body?.cancel();
  assert.equal(evil.headers.get("location"), "/");

  // Cross-origin sign-in is refused.
  const cross = await fetch(app.url + "/signin", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: "http://evil.example",
    },
    body: new URLSearchParams({ user: "admin", password: TEST_PASSWORD }),
  });
  assert.equal(cross.status, 403);
  await cross.body?.cancel();

  for (let i = 0; i < 3; i++) {
    const r = await fetch(app.url + "/signin", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: app.url,
      },
      body: new URLSearchParams({ user: "admin", password: "wrong" }),
    });
    assert.equal(r.status, 401);
    assert.match(await text(r), /Wrong user name or password/);
  }
  const limited = await fetch(app.url + "/signin", {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: app.url,
    },
    body: new URLSearchParams({ user: "admin", password: TEST_PASSWORD }),
  });
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  assert.match(
    await text(limited),
    /Too many failed sign-ins from 127\.0\.0\.1\. Try again in \d+ minutes/,
  );
});

Deno.test("state-changing requests from another origin are refused, the same origin and tokens pass", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  const body = JSON.stringify({ cidr: "198.51.100.0/24", note: "lab" });
  for (const origin of ["http://evil.example", null]) {
    const r = await fetch(app.url + "/api/allowlist", {
      method: "POST",
      headers: {
        cookie,
        "content-type": "application/json",
        ...(origin === null ? {} : { origin }),
      },
      body,
    });
    assert.equal(r.status, 403, `origin ${origin}`);
    assert.match((await r.json()).error, /Cross-origin/);
  }
  const ok = await fetch(app.url + "/api/allowlist", {
    method: "POST",
    headers: { cookie, "content-type": "application/json", origin: app.url },
    body,
  });
  assert.equal(ok.status, 201);
  assert.equal((await ok.json()).entry.cidr, "198.51.100.0/24");

  // API tokens: created once (shown once), used as Bearer, stored hashed, revoked.
  const created = await fetch(app.url + "/api/tokens", {
    method: "POST",
    headers: { cookie, "content-type": "application/json", origin: app.url },
    body: JSON.stringify({ name: "ci" }),
  });
  assert.equal(created.status, 201);
  const tok = await created.json();
  assert.match(tok.token, /^nst_/);
  const listed =
    await (await fetch(app.url + "/api/tokens", { headers: { cookie } }))
      .json();
  assert.equal(listed.tokens.length, 1);
  assert.equal(
    listed.tokens[0].token,
    undefined,
    "the list never shows the token",
  );
  assert.ok(!JSON.stringify(listed).includes(tok.token));
  const auth = { authorization: `Bearer ${tok.token}` };
  const del = await fetch(app.url + "/api/allowlist/198.51.100.0%2F24", {
    method: "DELETE",
    headers: auth,
  });
  assert.equal(del.status, 200, "a token needs no Origin");
  await del.body?.cancel();
  const revoke = await fetch(app.url + `/api/tokens/${tok.id}`, {
    method: "DELETE",
    headers: { cookie, origin: app.url },
  });
  assert.equal(revoke.status, 200);
  await revoke.body?.cancel();
  const after = await fetch(app.url + "/api/alerts", { headers: auth });
  assert.equal(after.status, 401);
  await after.body?.cancel();

  // Signing out ends the session.
  const out = await fetch(app.url + "/signout", {
    method: "POST",
    redirect: "manual",
    headers: { cookie, origin: app.url },
  });
  assert.equal(out.status, 303);
  await out.body?.cancel();
  const gone = await fetch(app.url + "/api/alerts", { headers: { cookie } });
  assert.equal(gone.status, 401);
  await gone.body?.cancel();
});

Deno.test("bad input gets 400 naming the field", async (t) => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  const h = { cookie, origin: app.url, "content-type": "application/json" };
  const cases: [string, string, string, unknown, string][] = [
    ["limit too large", "GET", "/api/alerts?limit=100000", undefined, "limit"],
    ["limit not a number", "GET", "/api/alerts?limit=ten", undefined, "limit"],
    ["unknown type", "GET", "/api/alerts?type=teleport", undefined, "type"],
    ["bad severity", "GET", "/api/alerts?severity=9", undefined, "severity"],
    ["bad source", "GET", "/api/alerts?src=<script>", undefined, "src"],
    ["bad time", "GET", "/api/alerts?since=yesterday", undefined, "since"],
    ["bad format", "GET", "/api/alerts?format=xml", undefined, "format"],
    ["bad alert id", "GET", "/api/alerts/..%2F..", undefined, "id"],
    [
      "bad resolution",
      "GET",
      "/api/stats?resolution=7s",
      undefined,
      "resolution",
    ],
    ["bad host", "GET", "/api/hosts/not-an-ip", undefined, "ip"],
    ["block without target", "POST", "/api/blocks", {}, "target"],
    [
      "block of a non-address",
      "POST",
      "/api/blocks",
      { target: "example.com" },
      "target",
    ],
    ["block with a bad duration", "POST", "/api/blocks", {
      target: "203.0.113.9",
      duration: "forever",
    }, "duration"],
    ["allowlist of a non-prefix", "POST", "/api/allowlist", {
      cidr: "10.0.0.0/99",
    }, "cidr"],
    ["body not JSON", "POST", "/api/blocks", "not json", "body"],
    ["policy with a bad threshold", "PUT", "/api/config", {
      detectors: { port_scan: { ports: 1 } },
    }, "detectors.port_scan.ports"],
    [
      "policy with an unknown field",
      "PUT",
      "/api/config",
      { detectorz: {} },
      "detectorz",
    ],
    [
      "detect with a wrong shape",
      "POST",
      "/api/detect",
      { features: "x" },
      "features",
    ],
    [
      "detect with a flow field of the wrong type",
      "POST",
      "/api/detect",
      { flow: { proto: "tcp", dest_port: "22" } },
      "flow.dest_port",
    ],
    [
      "detect with an unknown flow field",
      "POST",
      "/api/detect",
      { flow: { proto: "tcp", dport: 22 } },
      "flow.dport",
    ],
    [
      "detect with a field beside the flow",
      "POST",
      "/api/detect",
      { flow: {}, verbose: true },
      "verbose",
    ],
    ["replay of an unknown file", "POST", "/api/replay/start", {
      file: "nope.pcap",
    }, "file"],
    ["token without a name", "POST", "/api/tokens", {}, "name"],
  ];
  for (const [name, method, path, body, field] of cases) {
    await t.step(name, async () => {
      const res = await fetch(app.url + path, {
        method,
        headers: h,
        ...(body === undefined
          ? {}
          : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      const j = await res.json();
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(j)}`);
      assert.equal(j.field, field, JSON.stringify(j));
      assert.match(
        j.error,
        new RegExp(field.replaceAll(".", "\\.").replaceAll("[", "\\[")),
      );
    });
  }
  await t.step("an invalid policy leaves the one in force", async () => {
    const doc =
      await (await fetch(app.url + "/api/config", { headers: { cookie } }))
        .json();
    assert.equal(doc.detectors.port_scan.ports, 15);
  });
  await t.step("an upload at a bad speed is refused", async () => {
    const res = await fetch(app.url + "/api/replay/start?speed=-1", {
      method: "POST",
      headers: {
        cookie,
        origin: app.url,
        "content-type": "application/octet-stream",
      },
      body: new Uint8Array(64),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).field, "speed");
  });
  await t.step("an upload that is not a capture is refused", async () => {
    const res = await fetch(app.url + "/api/replay/start?speed=0", {
      method: "POST",
      headers: {
        cookie,
        origin: app.url,
        "content-type": "application/octet-stream",
      },
      body: new TextEncoder().encode(
        "<html>not a pcap at all, really not</html>",
      ),
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).field, "body");
  });
});

Deno.test("CSV export escapes formulas and quotes, and keeps hostile text as text", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  app.writer.queueAlert(
    alertWith(1, {
      host: '=HYPERLINK("http://evil")',
      evidence: { user: "+1-555", note: "@SUM(A1)" },
    }),
    true,
  );
  app.writer.queueAlert(
    alertWith(2, {
      src: "203.0.113.50",
      severity: 3,
      host: "-2+3",
      evidence: { path: 'a,b\n"c"' },
    }),
    true,
  );
  app.writer.queueAlert(
    alertWith(3, { host: "<script>__pwned_alert=1</script>" }),
    true,
  );
  await app.writer.flush();
  const res = await fetch(app.url + "/api/alerts?format=csv", {
    headers: { cookie },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/csv/);
  assert.match(
    res.headers.get("content-disposition") ?? "",
    /attachment; filename="netsentinel-alerts-/,
  );
  const csv = await res.text();
  const lines = csv.split("\r\n");
  assert.match(lines[0]!, /^id,timestamp,last_seen,type,severity/);
  assert.ok(csv.includes(`"'=HYPERLINK(""http://evil"")"`), csv);
  assert.ok(csv.includes(`'-2+3`), csv);
  assert.ok(
    csv.includes(`<script>__pwned_alert=1</script>`),
    "text stays as it was",
  );
  assert.ok(
    !/(^|,)[=+@-]/m.test(lines.slice(1).join("\n").replace(/"[^"]*"/g, "")),
    "no cell starts with a formula character",
  );
  assert.equal(lines.filter((l) => l.startsWith("01JTEST")).length, 3);

  // Filters apply to the export too.
  const only =
    await (await fetch(app.url + "/api/alerts?format=csv&severity=3", {
      headers: { cookie },
    })).text();
  assert.equal(only.trim().split("\r\n").length, 2);
  assert.ok(only.includes("203.0.113.50"));
});

Deno.test("alerts page through with cursors, filter by source and severity, and come back by id", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  for (let i = 1; i <= 7; i++) {
    app.writer.queueAlert(
      alertWith(i, {
        src: i % 2 ? "198.51.100.7" : "203.0.113.8",
        severity: i <= 2 ? 1 : 3,
      }),
      true,
    );
  }
  await app.writer.flush();
  const seen: string[] = [];
  let cursor: string | null = "";
  while (cursor !== null) {
    const q: string = cursor === ""
      ? ""
      : `&cursor=${encodeURIComponent(cursor)}`;
    const page: { alerts: Alert[]; cursor: string | null } =
      await (await fetch(`${app.url}/api/alerts?limit=3${q}`, {
        headers: { cookie },
      })).json();
    seen.push(...page.alerts.map((a) => a.netsentinel.id));
    cursor = page.cursor;
  }
  assert.equal(seen.length, 7);
  assert.deepEqual(seen, [...seen].sort().reverse(), "newest first");
  const bySrc = await (await fetch(`${app.url}/api/alerts?src=203.0.113.8`, {
    headers: { cookie },
  })).json();
  assert.equal(bySrc.alerts.length, 3);
  const bySev = await (await fetch(`${app.url}/api/alerts?severity=1`, {
    headers: { cookie },
  })).json();
  assert.equal(bySev.alerts.length, 2);
  const recent = await (await fetch(`${app.url}/api/alerts/recent?limit=2`, {
    headers: { cookie },
  })).json();
  assert.equal(recent.alerts.length, 2);
  const one = await fetch(`${app.url}/api/alerts/${seen[0]}`, {
    headers: { cookie },
  });
  assert.equal((await one.json()).netsentinel.id, seen[0]);
  const none = await fetch(`${app.url}/api/alerts/01JNOPE000000000000000000`, {
    headers: { cookie },
  });
  assert.equal(none.status, 404);
  await none.body?.cancel();
});

Deno.test("blocks go through the never-block check and come off again; a signed-in admin's address is never blocked", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  const h = { cookie, origin: app.url, "content-type": "application/json" };
  const add = await fetch(app.url + "/api/blocks", {
    method: "POST",
    headers: h,
    body: JSON.stringify({
      target: "203.0.113.9",
      duration: "2h",
      reason: "test",
    }),
  });
  assert.equal(add.status, 201);
  const b = (await add.json()).block;
  assert.equal(b.target, "203.0.113.9");
  assert.equal(b.source, "dashboard");
  assert.equal(b.by, "admin");
  const list =
    await (await fetch(app.url + "/api/blocks", { headers: { cookie } }))
      .json();
  assert.deepEqual(list.blocks.map((x: { target: string }) => x.target), [
    "203.0.113.9",
  ]);
  assert.equal(list.state.state, "unavailable");

  // 127.0.0.1 is loopback; the signed-in admin's address is protected too.
  const refused = await fetch(app.url + "/api/blocks", {
    method: "POST",
    headers: h,
    body: JSON.stringify({ target: "127.0.0.1" }),
  });
  assert.equal(refused.status, 409);
  const rj = await refused.json();
  assert.equal(rj.reason, "loopback");
  assert.match(rj.error, /Refused to block/);
  assert.deepEqual(app.server.dashboard.sessions.adminAddrs(), ["127.0.0.1"]);

  const del = await fetch(app.url + "/api/blocks/203.0.113.9", {
    method: "DELETE",
    headers: h,
  });
  assert.equal(del.status, 200);
  await del.body?.cancel();
  const again = await fetch(app.url + "/api/blocks/203.0.113.9", {
    method: "DELETE",
    headers: h,
  });
  assert.equal(again.status, 404);
  await again.body?.cancel();
  const host = await (await fetch(app.url + "/api/hosts/203.0.113.9", {
    headers: { cookie },
  })).json();
  assert.equal(host.block, null);
});

Deno.test("a suppression from an alert lands in the policy once", async () => {
  await using app = await startAppliance();
  const cookie = await signIn(app.url);
  app.writer.queueAlert(alertWith(9), true);
  await app.writer.flush();
  const h = { cookie, origin: app.url, "content-type": "application/json" };
  const id = "01JTEST" + "9".padStart(19, "0");
  const first = await fetch(app.url + "/api/suppressions", {
    method: "POST",
    headers: h,
    body: JSON.stringify({ alert_id: id }),
  });
  assert.equal(first.status, 201);
  await first.body?.cancel();
  const second = await fetch(app.url + "/api/suppressions", {
    method: "POST",
    headers: h,
    body: JSON.stringify({ alert_id: id }),
  });
  assert.equal((await second.json()).existed, true);
  const doc =
    await (await fetch(app.url + "/api/config", { headers: { cookie } }))
      .json();
  assert.deepEqual(
    doc.suppressions.map((
      s: { signature_id: number; ip: string; track: string },
    ) => [s.signature_id, s.ip, s.track]),
    [[1000109, "198.51.100.7", "by_src"]],
  );
});

Deno.test("a replayed capture fills stats, hosts and alerts; metrics and detect answer", async () => {
  const caps = await Deno.makeTempDir({ prefix: "ns-caps-" });
  try {
    await writeDashboardCapture(join(caps, "dash.pcap"), {
      seconds: 8,
      scanAtS: 3,
    });
    await using app = await startAppliance({ capturesDir: caps });
    const cookie = await signIn(app.url);
    const h = { cookie, origin: app.url, "content-type": "application/json" };
    const st =
      await (await fetch(app.url + "/api/replay", { headers: { cookie } }))
        .json();
    // The test's capture, beside the shipped demo.
    assert.deepEqual(st.captures.map((c: { name: string }) => c.name), [
      "dash.pcap",
      "demo.pcap",
    ]);
    const start = await fetch(app.url + "/api/replay/start", {
      method: "POST",
      headers: h,
      body: JSON.stringify({ file: "dash.pcap", speed: 0 }),
    });
    assert.equal(start.status, 200);
    await start.body?.cancel();
    await waitFor(
      "replay to finish",
      () => app.replay.status().state,
      (s) => s === "finished",
    );
    const alerts = await waitFor(
      "the port scan alert",
      async () =>
        (await (await fetch(app.url + "/api/alerts?type=port_scan", {
          headers: { cookie },
        })).json()).alerts as Alert[],
      (a) => a.length > 0,
    );
    assert.equal(alerts[0]!.src_ip, "45.33.32.156");
    assert.equal(alerts[0]!.netsentinel.src_geo?.country, "US");
    const stats = await waitFor(
      "a stats sample with traffic",
      async () => (await (await fetch(app.url + "/api/stats?resolution=1s", {
        headers: { cookie },
      })).json()),
      (s) => s.current !== null && s.current.packets > 0,
    );
    assert.ok(
      stats.current.protocols.some((p: { name: string }) => p.name === "tcp"),
    );
    assert.ok(
      stats.current.names.some((n: { name: string }) =>
        n.name === "news.example.com"
      ),
    );
    assert.ok(stats.points.some((p: { bytes: number }) => p.bytes > 0));
    const hosts = await waitFor(
      "hosts in KV",
      async () =>
        (await (await fetch(app.url + "/api/hosts", { headers: { cookie } }))
          .json()).hosts as { ip: string }[],
      (list) => list.some((x) => x.ip === "45.33.32.156"),
    );
    // Known hosts: the home network's devices and outside addresses that
    // alerts named; not every outside server the devices talked to.
    const ips = hosts.map((x) => x.ip);
    for (const ip of ["192.168.1.20", "192.168.1.1", "45.33.32.156"]) {
      assert.ok(ips.includes(ip), `${ip} in ${ips}`);
    }
    assert.ok(!ips.includes("93.184.215.14"), `${ips}`);
    const one = await (await fetch(app.url + "/api/hosts/45.33.32.156", {
      headers: { cookie },
    })).json();
    assert.equal(one.known, true);
    assert.equal(one.geo.country, "US");
    assert.ok(one.alerts.length >= 1);

    const metrics = await fetch(app.url + "/metrics", { headers: { cookie } });
    const mt = await metrics.text();
    assert.match(
      metrics.headers.get("content-type") ?? "",
      /^text\/plain; version=0\.0\.4/,
    );
    assert.match(mt, /^netsentinel_packets_total \d+$/m);
    assert.match(mt, /^netsentinel_alerts_live_total\{type="port_scan"\} 1$/m);
    assert.match(mt, /^# TYPE netsentinel_ws_clients gauge$/m);

    const zeros = new Array(40).fill(0);
    const det = await fetch(app.url + "/api/detect", {
      method: "POST",
      headers: h,
      body: JSON.stringify(zeros),
    });
    const dj = await det.json();
    assert.ok(det.status === 200 || det.status === 400, JSON.stringify(dj));
    if (det.status === 200) {
      assert.equal(typeof dj.score, "number");
      assert.ok(dj.verdict === "normal" || dj.verdict === "anomalous");
    }
    // A flow description: an unanswered SYN to SSH from a busy scanner.
    const flow = await fetch(app.url + "/api/detect", {
      method: "POST",
      headers: h,
      body: JSON.stringify({
        flow: {
          proto: "tcp",
          dest_port: 22,
          duration_s: 0,
          pkts_toserver: 1,
          pkts_toclient: 0,
          src_ports_10s: 500,
          src_flows_10s: 500,
          src_failed_10s: 500,
        },
      }),
    });
    const fj = await flow.json();
    assert.equal(flow.status, 200, JSON.stringify(fj));
    assert.equal(fj.verdict, "anomalous", JSON.stringify(fj));
    assert.equal(fj.features.src_ports_10s, 500);
    assert.ok(fj.explanation.length > 10);
  } finally {
    await Deno.remove(caps, { recursive: true });
  }
});

Deno.test("/ws/live checks the session during the upgrade and then streams typed messages", async () => {
  await using app = await startAppliance();
  const wsUrl = app.url.replace("http", "ws") + "/ws/live";
  const anon = await fetch(app.url + "/ws/live", {
    headers: { upgrade: "websocket" },
  });
  assert.equal(anon.status, 401);
  await anon.body?.cancel();
  const cookie = await signIn(app.url);
  // Deno's WebSocket takes request headers (the DOM typings do not know it).
  const DenoWebSocket = WebSocket as unknown as new (
    url: string,
    opts: { headers: Record<string, string> },
  ) => WebSocket;
  const ws = new DenoWebSocket(wsUrl, { headers: { cookie, origin: app.url } });
  const kinds: string[] = [];
  ws.onmessage = (e) => kinds.push(JSON.parse(e.data).kind);
  try {
    await waitFor(
      "hello and a stats tick",
      () => kinds,
      (k) => k.includes("hello") && k.includes("stats"),
    );
    app.writer.queueAlert(alertWith(4), true);
    await waitFor("the alert", () => kinds, (k) => k.includes("alert"));
  } finally {
    const closed = new Promise((r) => (ws.onclose = r));
    ws.close();
    await closed;
  }
  // A cross-site page cannot open the socket with the cookie.
  const cross = await fetch(app.url + "/ws/live", {
    headers: { cookie, origin: "http://evil.example", upgrade: "websocket" },
  });
  assert.equal(cross.status, 403);
  await cross.body?.cancel();
});

Deno.test("over TLS (--cert/--key) the session cookie is Secure with the __Host- prefix and HSTS is sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ns-tls-" });
  try {
    // A test CA and a server certificate it signs (rustls refuses a CA as the end entity).
    const ssl = async (...args: string[]) => {
      const out = await new Deno.Command("openssl", {
        args,
        cwd: dir,
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    };
    const ec = [
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
    ];
    await ssl(
      "req",
      "-x509",
      ...ec,
      "-subj",
      "/CN=test-ca",
      "-days",
      "1",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
    );
    await ssl(
      "req",
      ...ec,
      "-subj",
      "/CN=127.0.0.1",
      "-keyout",
      "key.pem",
      "-out",
      "leaf.csr",
    );
    await Deno.writeTextFile(
      join(dir, "leaf.ext"),
      "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    );
    await ssl(
      "x509",
      "-req",
      "-in",
      "leaf.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "1",
      "-extfile",
      "leaf.ext",
      "-out",
      "cert.pem",
    );
    const ca = await Deno.readTextFile(join(dir, "ca.pem"));
    const cert = await Deno.readTextFile(join(dir, "cert.pem"));
    const key = await Deno.readTextFile(join(dir, "key.pem"));
    await using app = await startAppliance({ tls: { cert, key } });
    assert.match(app.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    using client = Deno.createHttpClient({ caCerts: [ca] });
    const res = await fetch(app.url + "/signin", {
      client,
      method: "POST",
      redirect: "manual",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: app.url,
      },
      body: new URLSearchParams({ user: "admin", password: TEST_PASSWORD }),
    });
    await res.body?.cancel();
    assert.equal(res.status, 303);
    const set = res.headers.get("set-cookie") ?? "";
    assert.match(
      set,
      /^__Host-ns_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict; Secure$/,
    );
    assert.match(
      res.headers.get("strict-transport-security") ?? "",
      /max-age=/,
    );
    const api = await fetch(app.url + "/api/alerts", {
      client,
      headers: { cookie: set.split(";")[0]! },
    });
    assert.equal(api.status, 200);
    await api.body?.cancel();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
