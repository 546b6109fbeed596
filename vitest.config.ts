import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests open real sockets and native CRT clients; two cores, so keep forks few.
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
    teardownTimeout: 10_000,
    // Builds dist/ once, for the tests that spawn the real CLI.
    globalSetup: ["test/global-setup.ts"],
  },
});
