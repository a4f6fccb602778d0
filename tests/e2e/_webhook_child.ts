/**
 * A webhook receiver for the attack lab, run inside a lab namespace: listens
 * on 127.0.0.1:PORT and prints each request as one JSON line
 * (`{"path", "headers", "body"}`), answering 200.
 * Arguments: PORT.
 *
 * @module
 */
const port = Number(Deno.args[0]);
const out = new TextEncoder();
Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: () => {
    Deno.stdout.writeSync(out.encode(`LISTENING ${port}\n`));
  },
}, async (req) => {
  const line = JSON.stringify({
    path: new URL(req.url).pathname,
    headers: Object.fromEntries(req.headers),
    body: await req.text(),
  });
  Deno.stdout.writeSync(out.encode(`HOOK ${line}\n`));
  return Response.json({ ok: true });
});
