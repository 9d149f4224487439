// undici's `Agent` module on its own (see UndiciHttpClient.ts): the package's index loads all of
// undici (fetch, WebSocket, caches, mocks), about three times the start-up time of the Agent.
declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici"

  const AgentClass: typeof Agent
  export default AgentClass
}
