/**
 * The sign-in page: a plain form (no script), posted to `/signin`. Shows
 * why the last attempt failed, including the rate limit's wait.
 *
 * @module
 */
import type { VNode } from "preact";

/** Page title. */
export const title = "Sign in";

/** Props of the sign-in page. */
export interface SignInProps {
  /** Where to go after signing in (a local path). */
  next: string;
  /** Why the last attempt failed, if it did. */
  error: string | null;
}

/** The sign-in page. */
export default function SignInPage(p: SignInProps): VNode {
  return (
    <section class="signin panel">
      <h1>Sign in</h1>
      <form method="post" action="/signin">
        <input type="hidden" name="next" value={p.next} />
        <label>
          User
          <input name="user" value="admin" autocomplete="username" required />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            autofocus
          />
        </label>
        {p.error !== null
          ? (
            <p class="error" role="alert" data-testid="signin-error">
              {p.error}
            </p>
          )
          : null}
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">
        The first password was printed when NetSentinel first started (or set
        with NETSENTINEL_PASSWORD). Change it with{" "}
        <code>netsentinel passwd</code>.
      </p>
    </section>
  );
}
