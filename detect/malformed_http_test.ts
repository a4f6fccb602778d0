import assert from "node:assert/strict";
import {
  checkHttpRequest,
  newHttpCheck,
  worstViolation,
} from "./_http_grammar.ts";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const LIM = { maxRequestLine: 8192, maxHeaderLine: 8192, maxHeaders: 100 };
const H = "Host: www.lab.test\r\n";

function check(
  text: string | Uint8Array,
): { variant: string; findings: string[] } {
  const b = typeof text === "string"
    ? Uint8Array.from(text, (c) => c.charCodeAt(0))
    : text;
  const out = newHttpCheck();
  const bits = checkHttpRequest(b, 0, b.length, LIM, out);
  return { variant: worstViolation(bits), findings: out.findings };
}

Deno.test("http grammar: each kind of malformed request is named", async (t) => {
  const cases: [string, string, string][] = [
    [
      "well formed GET",
      `GET /index.html HTTP/1.1\r\n${H}Accept: */*\r\n\r\n`,
      "",
    ],
    [
      "well formed POST",
      `POST /api HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\nhi`,
      "",
    ],
    [
      "chunked upload",
      `POST /u HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n`,
      "",
    ],
    ["HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ""],
    ["request line cut by the segment", "GET /" + "a".repeat(1400), ""],
    ["bad method", `G3T /index.html HTTP/1.1\r\n${H}\r\n`, "bad_method"],
    ["unknown method", `FOOBAR /index.html HTTP/1.1\r\n${H}\r\n`, "bad_method"],
    ["lower-case method", `get / HTTP/1.1\r\n${H}\r\n`, "bad_method"],
    ["missing version", `GET /index.html\r\n${H}\r\n`, "bad_version"],
    ["bad version", `GET / HTTP/9.7\r\n${H}\r\n`, "bad_version"],
    ["extra spaces", `GET /a b HTTP/1.1\r\n${H}\r\n`, "bad_version"],
    [
      "header without colon",
      `GET / HTTP/1.1\r\n${H}X-Broken-Header no colon\r\n\r\n`,
      "bad_header",
    ],
    [
      "space before colon",
      "GET / HTTP/1.1\nHost : www.lab.test\n\n",
      "bad_header",
    ],
    [
      "obsolete folding",
      `GET / HTTP/1.1\r\n${H}X-A: 1\r\n  continued\r\n\r\n`,
      "bad_header",
    ],
    [
      "huge header line",
      `GET / HTTP/1.1\r\n${H}X-Padding: ${"A".repeat(12000)}\r\n\r\n`,
      "too_long",
    ],
    [
      "huge request target",
      `GET /${"B".repeat(9000)} HTTP/1.1\r\n${H}\r\n`,
      "too_long",
    ],
    [
      "too many headers",
      `GET / HTTP/1.1\r\n${"X-A: 1\r\n".repeat(150)}\r\n`,
      "too_long",
    ],
    [
      "control bytes in target",
      `GET /\x01\x02\x7f\xff HTTP/1.1\r\n${H}\r\n`,
      "non_printable",
    ],
    [
      "NUL in header",
      `GET / HTTP/1.1\r\n${H}User-Agent: x\x00y\r\n\r\n`,
      "non_printable",
    ],
    [
      "CL and TE",
      `POST /e HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`,
      "smuggling",
    ],
    [
      "two Content-Lengths",
      `POST /e HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 11\r\n\r\n`,
      "smuggling",
    ],
    [
      "obfuscated TE",
      `POST /e HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n`,
      "smuggling",
    ],
    [
      "space before colon in TE",
      `POST /e HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n`,
      "smuggling",
    ],
  ];
  for (const [name, req, want] of cases) {
    await t.step(`${name} → ${want || "no violation"}`, () => {
      const got = check(req);
      assert.equal(got.variant, want, got.findings.join(","));
    });
  }
});

Deno.test("malformed http: one alert per client and server, naming the violations", () => {
  const t = new Traffic();
  const reqs = [
    `G3T /index.html HTTP/1.1\r\n${H}\r\n`,
    `GET /index.html\r\n${H}\r\n`,
    `POST /e HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`,
  ];
  reqs.forEach((r, i) =>
    t.connection("10.99.0.66", 45000 + i, "10.99.0.10", 80, {
      request: r,
      answer: "HTTP/1.1 400 Bad\r\n\r\n",
    })
  );
  // A normal client on the same server.
  t.connection("10.99.0.20", 46000, "10.99.0.10", 80, {
    request: `GET / HTTP/1.1\r\n${H}\r\n`,
    answer: "HTTP/1.1 200 OK\r\n\r\n",
  });
  const al = ofType(run(t).alerts, "malformed_http");
  assert.equal(al.length, 1);
  assert.equal(al[0]!.src_ip, "10.99.0.66");
  assert.equal(al[0]!.netsentinel.count, 3);
  assert.ok(Array.isArray(al[0]!.netsentinel.evidence.violations));
});

function segmented(t: Traffic, sport: number, text: string, mss = 1448): void {
  const c = "10.99.0.66", v = "10.99.0.10";
  t.syn(c, sport, v, 80).tcp(v, 80, c, sport, 0x12).tcp(c, sport, v, 80, 0x10);
  for (let i = 0; i < text.length; i += mss) {
    t.tcp(c, sport, v, 80, 0x18, { payload: text.slice(i, i + mss) });
  }
  t.tcp(c, sport, v, 80, 0x11).tcp(v, 80, c, sport, 0x11).tcp(
    c,
    sport,
    v,
    80,
    0x10,
  );
}

Deno.test("malformed http: an absurd line spanning segments is followed and reported", async (t) => {
  for (
    const [name, req] of [
      [
        "header line",
        `GET / HTTP/1.1\r\n${H}X-Padding: ${"A".repeat(12000)}\r\n\r\n`,
      ],
      ["request target", `GET /${"B".repeat(9000)} HTTP/1.1\r\n${H}\r\n`],
    ] as const
  ) {
    await t.step(name, () => {
      const tr = new Traffic();
      segmented(tr, 47000, req);
      const [a] = ofType(run(tr).alerts, "malformed_http");
      assert.equal(a?.alert.signature_id, 1000504);
      assert.equal(a?.src_ip, "10.99.0.66");
    });
  }
  await t.step("big but legal cookies across segments raise nothing", () => {
    const tr = new Traffic();
    segmented(
      tr,
      47100,
      `GET / HTTP/1.1\r\n${H}Cookie: ${
        "c=1; ".repeat(700)
      }\r\nAccept: */*\r\n\r\n`,
    );
    assert.deepEqual(ofType(run(tr).alerts, "malformed_http"), []);
    const r = run(tr);
    assert.equal(
      r.detectors.find((d) => d.type === "malformed_http")!.stateSize(),
      0,
    );
  });
});
