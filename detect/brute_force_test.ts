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

/** SSH's cleartext NEWKEYS packet (length 12, padding 10, message 21). */
const NEWKEYS = Uint8Array.from([
  0,
  0,
  0,
  12,
  10,
  21,
  ...new Array(10).fill(0),
]);

/**
 * One SSH connection as its packet sizes show it: banners, the client's
 * NEWKEYS, then encrypted SERVICE_ACCEPT (44 bytes), then a FAILURE (44)
 * or, when it logs in, a SUCCESS (28) and the command's output.
 */
function sshSession(t: Traffic, c: string, sport: number, login: boolean) {
  const seg = (from: "c" | "s", payload: string | Uint8Array) =>
    from === "c"
      ? t.tcp(c, sport, V, 22, 0x18, { payload })
      : t.tcp(V, 22, c, sport, 0x18, { payload });
  t.syn(c, sport, V, 22);
  t.tcp(V, 22, c, sport, 0x12);
  t.tcp(c, sport, V, 22, 0x10);
  seg("c", "SSH-2.0-OpenSSH_9.2\r\n");
  seg("s", "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n");
  seg("c", "k".repeat(1448));
  seg("s", "k".repeat(1088));
  seg("s", "k".repeat(524));
  seg("c", NEWKEYS);
  seg("c", "e".repeat(44));
  seg("s", "e".repeat(44));
  seg("c", "e".repeat(68));
  seg("s", "e".repeat(login ? 28 : 44));
  if (login) {
    seg("c", "e".repeat(112));
    seg("s", "e".repeat(116));
  }
  t.tcp(c, sport, V, 22, 0x11);
  t.tcp(V, 22, c, sport, 0x11);
  t.tcp(c, sport, V, 22, 0x10);
}

Deno.test("brute force: ssh connections that log in are not attempts; the same ones failing are", () => {
  const run20 = (login: boolean) => {
    const t = new Traffic();
    for (let i = 0; i < 20; i++) {
      sshSession(t, A, 43000 + i, login);
      t.wait(2);
    }
    return ofType(run(t).alerts, "brute_force");
  };
  assert.deepEqual(run20(true), [], "a script's 20 one-shot commands");
  const failed = run20(false);
  assert.equal(failed.length, 1);
  assert.equal(failed[0]!.netsentinel.evidence.attempts, 20);
});
