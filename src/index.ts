/**
 * Public embedding API: `import { startWarren } from "warren"` runs a broker
 * (AMQP + optional management API) inside the calling Node process.
 */
export { startWarren, VERSION, type Warren, type WarrenOptions } from "./main/warren.js";
export type { FsyncPolicy } from "./store/types.js";
