import assert from "node:assert/strict";
import { configErrorField } from "./_testing.ts";
import { ConfigError } from "./errors.ts";
import {
  bool,
  cidr,
  cidrText,
  duration,
  int,
  list,
  num,
  oneOf,
  parseDurationText,
  record,
  text,
} from "./validate.ts";

Deno.test("readers give the fallback for an absent value", () => {
  assert.equal(bool(undefined, "a", true), true);
  assert.equal(int(undefined, "a", 7), 7);
  assert.equal(num(undefined, "a", 0.5), 0.5);
  assert.equal(text(undefined, "a", "x"), "x");
  assert.equal(oneOf(undefined, "a", ["x", "y"], "y"), "y");
  assert.equal(duration(undefined, "a", 60), 60);
  assert.deepEqual(list(undefined, "a", [1], (v, f) => int(v, f)), [1]);
  assert.deepEqual(record(undefined, "a", []), {});
});

Deno.test("readers without a fallback say the value is missing", async (t) => {
  const cases: [string, () => unknown][] = [
    ["bool", () => bool(undefined, "f")],
    ["int", () => int(undefined, "f")],
    ["num", () => num(undefined, "f", undefined, { min: 1, max: 2 })],
    ["text", () => text(undefined, "f")],
    ["oneOf", () => oneOf(undefined, "f", ["x"])],
    ["duration", () => duration(undefined, "f")],
    ["list", () => list(undefined, "f", undefined, (v, p) => int(v, p))],
    ["cidr", () => cidr(undefined, "f")],
  ];
  for (const [name, fn] of cases) {
    await t.step(name, () => {
      assert.throws(fn, (e) =>
        e instanceof ConfigError && e.field === "f" &&
        e.message === 'Invalid config "f": is missing');
    });
  }
});

Deno.test("num() takes finite numbers within its bounds, integer or not", () => {
  assert.equal(num(0.25, "f", undefined, { min: 0, max: 1 }), 0.25);
  assert.equal(num(1, "f", undefined, { min: 0, max: 1 }), 1);
  for (const bad of [1.5, -0.1, NaN, Infinity, "1", null]) {
    assert.equal(
      configErrorField(() => num(bad, "f", 0, { min: 0, max: 1 })),
      "f",
    );
  }
});

Deno.test("int() and duration() without an upper bound take any large value", () => {
  assert.equal(int(1e15, "f", 0, { max: Infinity }), 1e15);
  assert.throws(
    () => int(-1, "f", 0, { max: Infinity }),
    /expected an integer of at least 0, got -1/,
  );
  assert.equal(duration(1e12, "f", 0, { max: Infinity }), 1e12);
  assert.equal(configErrorField(() => duration(1e12, "f", 0)), "f");
});

Deno.test("list() names the index of a bad item and caps the length when asked", () => {
  assert.deepEqual(list([1, 2], "f", [], (v, p) => int(v, p)), [1, 2]);
  assert.equal(
    configErrorField(() => list([1, "2"], "f", [], (v, p) => int(v, p))),
    "f[1]",
  );
  assert.equal(
    configErrorField(() => list("1", "f", [], (v, p) => int(v, p))),
    "f",
  );
  assert.equal(
    configErrorField(() => list([1, 2, 3], "f", [], (v, p) => int(v, p), 2)),
    "f",
  );
});

Deno.test("parseDurationText() reads milliseconds only when asked", () => {
  assert.equal(parseDurationText("1h30m"), 5400);
  assert.equal(parseDurationText("45"), 45);
  assert.equal(parseDurationText("250ms"), null);
  assert.equal(parseDurationText("250ms", { ms: true }), 0.25);
  assert.equal(parseDurationText("1s500ms", { ms: true }), 1.5);
  assert.equal(parseDurationText("soon", { ms: true }), null);
  assert.equal(duration("1500ms", "f", undefined, { ms: true }), 1.5);
  assert.equal(configErrorField(() => duration("1500ms", "f", 0)), "f");
});

Deno.test("cidr() parses an address or prefix and refuses anything else", () => {
  assert.equal(cidr("10.1.2.3/8", "f").text, "10.0.0.0/8");
  assert.equal(cidrText("2001:db8::1", "f"), "2001:db8::1/128");
  for (const bad of ["10.0.0.0/33", "nas", 5, " ".repeat(60) + "10.0.0.1"]) {
    assert.equal(configErrorField(() => cidr(bad, "f")), "f");
  }
});

Deno.test("record() names an unknown key under the object's path", () => {
  assert.equal(configErrorField(() => record({ b: 1 }, "a", ["c"])), "a.b");
  assert.equal(configErrorField(() => record({ b: 1 }, "", ["c"])), "b");
  assert.equal(configErrorField(() => record([], "a", ["c"])), "a");
});
