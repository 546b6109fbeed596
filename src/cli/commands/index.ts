import type { Command } from "./command.js";

/** Every CLI verb, in the order `iotload --help` lists them. Each module default-exports a Command. */
export const commands: Command[] = [];
