// better-sqlite3 is compiled from source where no prebuilt binary can be downloaded. node-gyp then
// needs Node's headers; pnpm 11+ passes only a few variables to build scripts and ignores `nodedir`
// in .npmrc, so point node-gyp at the system headers here when they exist and nothing else is set.
const fs = require("node:fs")
const path = require("node:path")

const systemNodeDir = () => {
  for (const dir of ["/usr", "/usr/local", path.dirname(path.dirname(process.execPath))]) {
    if (fs.existsSync(path.join(dir, "include", "node", "node.h"))) return dir
  }
  return undefined
}

module.exports = {
  hooks: {
    updateConfig(config) {
      // biome-ignore lint/suspicious/noUndeclaredEnvVars: read by pnpm at install time, outside turbo
      const nodedir = process.env.npm_config_nodedir || systemNodeDir()
      if (nodedir === undefined) return config
      return { ...config, extraEnv: { ...(config.extraEnv || {}), npm_config_nodedir: nodedir } }
    }
  }
}
