import { configDefaults, defineConfig } from "vitest/config";

/**
 * Test files that replace a module with vi.mock: they need a fresh module registry of their own.
 * Every other file shares its worker's registry (isolate: false): a worker then loads aws-crt, the
 * AWS SDK and the emulator once instead of once per file, which takes about a quarter off the suite
 * on two cores. Such files must not leave module state behind (every test closes what it opened).
 */
const NEEDS_ISOLATION = ["test/unit/metrics/catalogue-drives-everything.test.ts"];

export default defineConfig({
  test: {
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
    projects: [
      {
        extends: true,
        test: {
          name: "shared",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...NEEDS_ISOLATION],
          isolate: false,
        },
      },
      { extends: true, test: { name: "isolated", include: NEEDS_ISOLATION, isolate: true } },
    ],
  },
});
