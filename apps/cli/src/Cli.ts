/**
 * The `taskhistory` command tree: `executions list | count | get | step | replay` and `usage`.
 * Each command is a module of its own under `commands/`; this file only assembles the tree.
 * Flags, formats and process wiring only; the work is done by `@taskhistory/core`.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import type * as Descriptor from "@effect/cli/CommandDescriptor"
import * as ValidationError from "@effect/cli/ValidationError"
import { Effect } from "effect"
import { count } from "./commands/count.js"
import { get } from "./commands/get.js"
import { list } from "./commands/list.js"
import { replay } from "./commands/replay.js"
import { report } from "./commands/report.js"
import { step } from "./commands/step.js"
import { usage } from "./commands/usage.js"
import { examples } from "./internal/options.js"

/** A parent command run without a subcommand shows its help (exit 0). */
const showHelp = (descriptor: Descriptor.Command<unknown> | undefined) =>
  descriptor === undefined ? Effect.void : Effect.fail(ValidationError.helpRequested(descriptor))

let executionsDescriptor: Descriptor.Command<unknown> | undefined
let rootDescriptor: Descriptor.Command<unknown> | undefined

const executions = Command.make("executions", {}, () => showHelp(executionsDescriptor)).pipe(
  Command.withDescription(
    examples("Read, count and replay workflow executions.", [
      "taskhistory executions list --status failed",
      "taskhistory executions count",
      "taskhistory executions get <executionId>"
    ])
  ),
  Command.withSubcommands([list, count, get, step, replay])
)

/**
 * The whole `taskhistory` command.
 *
 * @since 0.1.0
 */
export const command = Command.make("taskhistory", {}, () => showHelp(rootDescriptor)).pipe(
  Command.withDescription(
    examples(
      "Paragon Task History from the command line: list, count, inspect and replay workflow executions, and usage reports.",
      [
        "export PARAGON_API_KEY=... PARAGON_PROJECT_ID=...",
        "taskhistory executions list --status failed --after 2023-02-16",
        "taskhistory executions list --all --format ndjson | jq .id",
        "taskhistory usage --by workflow",
        "taskhistory report --source sqlite:./taskhistory.db --output report.html",
        "taskhistory --completions bash > ~/.local/share/bash-completion/completions/taskhistory"
      ],
      [
        "Configuration: PARAGON_API_KEY (or --api-key-file PATH; the key is never a flag), PARAGON_PROJECT_ID (--project-id), PARAGON_BASE_URL (--base-url), PARAGON_RATE_LIMIT (--rate-limit, default 1000/10m), PARAGON_RATE_LIMIT_REDIS (--rate-limit-redis). Data goes to stdout, everything else to stderr.",
        "Exit codes: 0 ok, 1 bug, 2 invalid input, 3 authentication, 4 not found, 5 rate limited, 6 upstream or network, 7 replay outcome unknown."
      ]
    )
  ),
  Command.withSubcommands([executions, usage, report])
)

executionsDescriptor = executions.descriptor
rootDescriptor = command.descriptor
