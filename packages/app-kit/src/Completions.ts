/**
 * Shell completion scripts for bash, zsh and fish, made from the command tree ({@link Help.Spec}):
 * subcommands, flags and the values of choice flags at every depth (`executions list --st<TAB>`,
 * `--format <TAB>`, `usage --by <TAB>`), file names for flags that take a path.
 *
 * The bash and zsh scripts share their tables (shell functions with `case` statements, the same
 * syntax in both shells); each has its own driver reading the words typed so far. The fish
 * script states every flag with `complete`, under a condition on the command path.
 *
 * @since 0.1.0
 */
import * as Help from "./Help.js"

/**
 * The shells a script is made for.
 *
 * @since 0.1.0
 */
export const shells = ["bash", "zsh", "fish"] as const

/**
 * @since 0.1.0
 */
export type Shell = (typeof shells)[number]

/**
 * Whether `name` is a shell we make a script for.
 *
 * @since 0.1.0
 */
export const isShell = (name: string): name is Shell => (shells as ReadonlyArray<string>).includes(name)

interface Entry {
  readonly key: string
  readonly spec: Help.Spec
}

const entries = (root: Help.Spec): Array<Entry> => {
  const out: Array<Entry> = []
  const walk = (spec: Help.Spec) => {
    out.push({ key: spec.path.slice(1).join(" "), spec })
    spec.subcommands.forEach(walk)
  }
  walk(root)
  return out
}

const ident = (name: string) => name.replace(/[^A-Za-z0-9_]/g, "_")

const flagWords = (flag: Help.Flag) => [flag.name, ...flag.aliases]

/** The `case` tables shared by the bash and zsh scripts. */
const tables = (root: Help.Spec, fn: string): string => {
  const all = entries(root)
  const lines: Array<string> = []
  const casePath = (
    name: string,
    body: (e: Entry) => Array<string> | undefined,
    tail = "",
    header: Array<string> = []
  ) => {
    lines.push(`${fn}_${name}() {`, ...header, '  case "$1" in')
    for (const e of all) {
      const b = body(e)
      if (b === undefined || b.length === 0) continue
      lines.push(`    "${e.key}")`, ...b.map((l) => `      ${l}`), "      ;;")
    }
    lines.push("  esac", ...(tail === "" ? [] : [`  ${tail}`]), "}", "")
  }
  casePath("subcommands", (e) =>
    e.spec.subcommands.length === 0
      ? undefined
      : [`echo "${e.spec.subcommands.map((s) => s.name).join(" ")}"`]
  )
  casePath("flags", (e) => [`echo "${Help.accepted(e.spec).flatMap(flagWords).join(" ")}"`])
  const flagCase = (e: Entry, pick: (f: Help.Flag) => string | undefined) => {
    const arms = Help.accepted(e.spec).flatMap((f) => {
      const what = pick(f)
      return what === undefined ? [] : [`${flagWords(f).join("|")}) ${what} ;;`]
    })
    return arms.length === 0 ? undefined : ['case "$2" in', ...arms.map((a) => `  ${a}`), "esac"]
  }
  casePath(
    "takes_value",
    (e) => flagCase(e, (f) => (f.placeholder === undefined ? undefined : "return 0")),
    "return 1"
  )
  casePath("choices", (e) =>
    flagCase(e, (f) => (f.choices.length === 0 ? undefined : `echo "${f.choices.join(" ")}"`))
  )
  casePath("files", (e) => flagCase(e, (f) => (f.path ? "return 0" : undefined)), "return 1")
  return lines.join("\n")
}

const bash = (root: Help.Spec): string => {
  const fn = `_${ident(root.name)}`
  return `# bash completion for ${root.name}: subcommands, flags and their values.
# Install: ${root.name} --completions bash > ~/.local/share/bash-completion/completions/${root.name}
# (or add \`source <(${root.name} --completions bash)\` to ~/.bashrc).

${tables(root, fn)}
${fn}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="" word="" flag="" prefix="" words=""
  local i skip=0
  (( COMP_CWORD > 0 )) && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for (( i=1; i<COMP_CWORD; i++ )); do
    word="\${COMP_WORDS[i]}"
    [[ "$word" == "=" ]] && continue
    if (( skip )); then skip=0; continue; fi
    [[ "$word" == "--" ]] && return 0
    if [[ "$word" == -* ]]; then
      [[ "$word" != *=* ]] && ${fn}_takes_value "$cmdpath" "$word" && skip=1
      continue
    fi
    words="$(${fn}_subcommands "$cmdpath")"
    if [[ " $words " == *" $word "* ]]; then
      cmdpath="\${cmdpath:+$cmdpath }$word"
    fi
  done
  if [[ "$cur" == "=" ]]; then
    flag="$prev"; cur=""
  elif [[ "$prev" == "=" ]] && (( COMP_CWORD > 1 )); then
    flag="\${COMP_WORDS[COMP_CWORD-2]}"
  elif [[ "$cur" == --*=* ]]; then
    flag="\${cur%%=*}"; prefix="$flag="; cur="\${cur#*=}"
  elif [[ "$prev" == -* ]] && ${fn}_takes_value "$cmdpath" "$prev"; then
    flag="$prev"
  fi
  if [[ -n "$flag" ]]; then
    words="$(${fn}_choices "$cmdpath" "$flag")"
    if [[ -n "$words" ]]; then
      COMPREPLY=( $(compgen -P "$prefix" -W "$words" -- "$cur") )
    elif ${fn}_files "$cmdpath" "$flag"; then
      COMPREPLY=( $(compgen -P "$prefix" -f -- "$cur") )
    else
      COMPREPLY=()
    fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=( $(compgen -W "$(${fn}_flags "$cmdpath")" -- "$cur") )
    return 0
  fi
  COMPREPLY=( $(compgen -W "$(${fn}_subcommands "$cmdpath")" -- "$cur") )
  return 0
}

complete -F ${fn} ${root.name}
`
}

const zsh = (root: Help.Spec): string => {
  const fn = `_${ident(root.name)}`
  return `#compdef ${root.name}
# zsh completion for ${root.name}: subcommands, flags and their values.
# Install: ${root.name} --completions zsh > "\${fpath[1]}/_${root.name}" (then restart zsh),
# or add \`source <(${root.name} --completions zsh)\` to ~/.zshrc after compinit.

${tables(root, fn)}
${fn}() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" cmdpath="" word="" flag="" subs=""
  local -i i skip=0
  for (( i=2; i<CURRENT; i++ )); do
    word="\${words[i]}"
    if (( skip )); then skip=0; continue; fi
    [[ "$word" == "--" ]] && return 0
    if [[ "$word" == -* ]]; then
      [[ "$word" != *=* ]] && ${fn}_takes_value "$cmdpath" "$word" && skip=1
      continue
    fi
    subs="$(${fn}_subcommands "$cmdpath")"
    if [[ " $subs " == *" $word "* ]]; then
      cmdpath="\${cmdpath:+$cmdpath }$word"
    fi
  done
  if [[ "$cur" == --*=* ]]; then
    flag="\${cur%%=*}"
    compset -P '*='
  elif [[ "$prev" == -* ]] && ${fn}_takes_value "$cmdpath" "$prev"; then
    flag="$prev"
  fi
  if [[ -n "$flag" ]]; then
    subs="$(${fn}_choices "$cmdpath" "$flag")"
    if [[ -n "$subs" ]]; then
      compadd -- \${=subs}
    elif ${fn}_files "$cmdpath" "$flag"; then
      _files
    fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    subs="$(${fn}_flags "$cmdpath")"
    compadd -- \${=subs}
    return 0
  fi
  subs="$(${fn}_subcommands "$cmdpath")"
  [[ -n "$subs" ]] && compadd -- \${=subs}
  return 0
}

if [[ "\${funcstack[1]}" == "${fn}" ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${root.name}
fi
`
}

const fishQuote = (text: string) => `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`

const fish = (root: Help.Spec): string => {
  const fn = `__${ident(root.name)}`
  const all = entries(root)
  const valueFlags = all.flatMap((e) =>
    Help.accepted(e.spec)
      .filter((f) => f.placeholder !== undefined)
      .flatMap((f) => flagWords(f).map((w) => `${e.key}|${w}`))
  )
  const subcommands = all.flatMap((e) => e.spec.subcommands.map((s) => `${e.key}|${s.name}`))
  const lines: Array<string> = [
    `# fish completion for ${root.name}: subcommands, flags and their values.`,
    `# Install: ${root.name} --completions fish > ~/.config/fish/completions/${root.name}.fish`,
    "",
    `set -g ${fn}_value_flags ${valueFlags.map(fishQuote).join(" ")}`,
    `set -g ${fn}_subcommands ${subcommands.map(fishQuote).join(" ")}`,
    "",
    `function ${fn}_path`,
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l p ''",
    "    set -l skip 0",
    "    for w in $words",
    "        if test $skip -eq 1",
    "            set skip 0",
    "            continue",
    "        end",
    "        if test \"$w\" = '--'",
    "            break",
    "        end",
    "        if string match -q -- '-*' $w",
    `            if not string match -q -- '*=*' $w; and contains -- "$p|$w" $${fn}_value_flags`,
    "                set skip 1",
    "            end",
    "            continue",
    "        end",
    `        if contains -- "$p|$w" $${fn}_subcommands`,
    '            set p (string trim -- "$p $w")',
    "        end",
    "    end",
    "    echo $p",
    "end",
    "",
    `function ${fn}_at`,
    `    set -l p (${fn}_path)`,
    '    test "$p" = "$argv[1]"',
    "end",
    "",
    `complete -c ${root.name} -f`
  ]
  for (const e of all) {
    const at = `-n ${fishQuote(`${fn}_at ${fishQuote(e.key)}`)}`
    for (const sub of e.spec.subcommands) {
      lines.push(`complete -c ${root.name} ${at} -a ${sub.name} -d ${fishQuote(sub.summary)}`)
    }
    for (const flag of Help.accepted(e.spec)) {
      const parts = [`complete -c ${root.name}`, at]
      for (const w of flagWords(flag)) {
        parts.push(w.startsWith("--") ? `-l ${w.slice(2)}` : `-s ${w.slice(1)}`)
      }
      if (flag.placeholder !== undefined) {
        if (flag.choices.length > 0) parts.push(`-x -a ${fishQuote(flag.choices.join(" "))}`)
        else if (flag.path) parts.push("-r -F")
        else parts.push("-x")
      }
      parts.push(`-d ${fishQuote(flag.description.split(/(?<=\.)\s/)[0] ?? "")}`)
      lines.push(parts.join(" "))
    }
  }
  return `${lines.join("\n")}\n`
}

/**
 * The completion script of `root` for `shell`.
 *
 * @example
 * Completions.script(Help.spec(command), "bash")
 *
 * @since 0.1.0
 */
export const script = (root: Help.Spec, shell: Shell): string => {
  switch (shell) {
    case "bash":
      return bash(root)
    case "zsh":
      return zsh(root)
    case "fish":
      return fish(root)
  }
}
