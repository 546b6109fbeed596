/** `iotload run --workers N`: the run's shards in N worker processes, one merged result (./pool.ts). */
export { WorkerPool, type WorkerPoolOptions, type WorkerReport } from "./pool.js";
