/** Rules files of the alert tests. */

/**
 * Writes (with `write`, e.g. `writeIn(dir)`) a rules file that fires on any failure over all
 * executions of the last `window` (default 100d), to webhook `ops` (`OPS_HOOK`) and the others
 * `notify` names; `more`: the other lines of `ops` and the other webhooks.
 */
export const anyFailureRules = (
  write: (name: string, text: string) => string,
  name: string,
  options: { readonly more?: string; readonly window?: string; readonly notify?: ReadonlyArray<string> } = {}
) =>
  write(
    name,
    `webhooks:\n  - name: ops\n    urlEnv: OPS_HOOK\n${options.more ?? ""}rules:\n  - name: any-failure\n    by: all\n    failures: 0\n    window: ${options.window ?? "100d"}\n    notify: [${(options.notify ?? ["ops"]).join(", ")}]\n`
  )
