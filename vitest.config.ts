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
    // @aws-sdk v3 prints a Node 22 notice per process; it is noise in test output (see cli/main.ts).
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
