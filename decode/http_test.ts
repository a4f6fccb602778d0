import assert from "node:assert/strict";
import { parseHttpRequest } from "./http.ts";
import { newPacket } from "./packet.ts";
import { cat } from "./_test_frames.ts";

Deno.test("parseHttpRequest() reads the request line and headers with bare LF endings", () => {
  const h = newPacket().http;
  const ok = parseHttpRequest(
    cat("GET /x HTTP/1.0\nUser-Agent:wget\nHOST: h.example\n\n"),
    h,
  );
  assert.equal(ok, true);
  assert.deepEqual({ ...h }, {
    method: "GET",
    uri: "/x",
    version: "HTTP/1.0",
    host: "h.example",
    userAgent: "wget",
  });
});

Deno.test("parseHttpRequest() stops at the end of the headers", () => {
  const h = newPacket().http;
  parseHttpRequest(
    cat("PUT /f HTTP/1.1\r\nX: 1\r\n\r\nHost: in.the.body\r\n"),
    h,
  );
  assert.equal(h.method, "PUT");
  assert.equal(h.host, "");
});

Deno.test("parseHttpRequest() caps the URI and leaves the record alone for non-requests", () => {
  const h = newPacket().http;
  parseHttpRequest(cat(`GET /${"a".repeat(5000)} HTTP/1.1\r\n\r\n`), h);
  assert.equal(h.uri.length, 2048);
  assert.equal(h.version, "HTTP/1.1");
  assert.equal(parseHttpRequest(cat("\x16\x03\x01\x02\x00"), h), false);
  assert.equal(parseHttpRequest(cat("GE"), h), false);
  assert.equal(h.method, "GET");
});

Deno.test("parseHttpRequest() escapes bytes outside printable ASCII in every field", () => {
  const h = newPacket().http;
  parseHttpRequest(
    cat("GET /\x00\x80 HTTP/1.1\x01\r\nHost: a\x1bb\r\n\r\n"),
    h,
  );
  assert.equal(h.uri, "/\\x00\\x80");
  assert.equal(h.version, "HTTP/1.1\\x01");
  assert.equal(h.host, "a\\x1bb");
});
