import assert from "node:assert/strict";
import { ofType, run, Traffic } from "./_test_traffic.ts";

const A = "10.99.0.66", V = "10.99.0.10";
const BANNER = "SSH-2.0-OpenSSH_9.2\r\n" + "k".repeat(1200);

function sshAttempt(t: Traffic, sport: number): void {
  t.connection(A, sport, V, 22, {
    request: "SSH-2.0-libssh\r\n" + "c".repeat(1500),
    answer: BANNER,
    gapS: 1.5,
  });
}

Deno.test("brute force: many short small ssh connections raise brute_force (ssh)", () => {
  const t = new Traffic();
  for (let i = 0; i < 30; i++) {
    sshAttempt(t, 40000 + i);
    t.wait(1);
  }
  const r = run(t);
  const bf = ofType(r.alerts, "brute_force");
  assert.equal(bf.length, 1);
  assert.equal(bf[0]!.src_ip, A);
  assert.equal(bf[0]!.dest_port, 22);
  assert.equal(bf[0]!.alert.signature_id, 1000301);
  assert.equal(bf[0]!.netsentinel.count, 30);
  assert.equal(bf[0]!.netsentinel.evidence.service, "ssh");
});

Deno.test("brute force: an admin's few sessions and a long one raise nothing", () => {
  const t = new Traffic();
  for (let i = 0; i < 6; i++) {
    sshAttempt(t, 41000 + i);
    t.wait(40);
  }
  t.connection("10.99.0.30", 42000, V, 22, {
    request: "x".repeat(4000),
    answer: "y".repeat(90000),
    gapS: 120,
  });
  assert.deepEqual(ofType(run(t).alerts, "brute_force"), []);
});

Deno.test("brute force: HTTP 401 answers to one client raise brute_force (http_auth)", () => {
  const t = new Traffic();
  for (let i = 0; i < 20; i++) {
    t.connection(A, 43000 + i, V, 80, {
      request: `GET /admin/ HTTP/1.1\r\nHost: v\r\nAuthorization: Basic ${
        btoa("admin:pw" + i)
      }\r\n\r\n`,
      answer: "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\n",
    });
  }
  const [a] = ofType(run(t).alerts, "brute_force");
  assert.equal(a?.alert.signature_id, 1000306);
  assert.equal(a?.dest_port, 80);
});

Deno.test("brute force: POSTs to a login path raise http_post; POSTs to an API path do not", () => {
  const mk = (path: string) => {
    const t = new Traffic();
    for (let i = 0; i < 30; i++) {
      t.connection(A, 44000 + i, V, 80, {
        request:
          `POST ${path}?next=/ HTTP/1.1\r\nHost: v\r\nContent-Length: 20\r\n\r\nuser=a&pass=${i}`,
        answer: "HTTP/1.1 200 OK\r\n\r\n",
      });
    }
    return ofType(run(t).alerts, "brute_force");
  };
  const [a] = mk("/wp-login.php");
  assert.equal(a?.alert.signature_id, 1000307);
  assert.equal(a?.netsentinel.evidence.path, "/wp-login.php");
  assert.deepEqual(mk("/api/echo"), []);
});

Deno.test("brute force: an admin's many interactive ssh sessions (a packet per keystroke) are not guesses", () => {
  const t = new Traffic();
  for (let s = 0; s < 15; s++) {
    const c = "10.99.0.30", sp = 45000 + s;
    t.syn(c, sp, V, 22).tcp(V, 22, c, sp, 0x12).tcp(c, sp, V, 22, 0x10);
    t.tcp(c, sp, V, 22, 0x18, { payload: "SSH-2.0-OpenSSH\r\n" });
    t.tcp(V, 22, c, sp, 0x18, { payload: BANNER });
    for (let k = 0; k < 60; k++) {
      t.tcp(c, sp, V, 22, 0x18, { payload: "k".repeat(36) }).tcp(
        V,
        22,
        c,
        sp,
        0x18,
        { payload: "e".repeat(36) },
      );
      t.wait(0.15);
    }
    t.tcp(c, sp, V, 22, 0x11).tcp(V, 22, c, sp, 0x11).tcp(c, sp, V, 22, 0x10);
    t.wait(5);
  }
  assert.deepEqual(ofType(run(t).alerts, "brute_force"), []);
});
