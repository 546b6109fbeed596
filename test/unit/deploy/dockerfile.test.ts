/**
 * deploy/Dockerfile without Docker: its instructions are parsed and held to what the image relies on
 * (deploy/README.md): node:20-slim (glibc) in every stage, a build stage that compiles dist/, a
 * runtime stage with production dependencies installed without lifecycle scripts, a numeric non-root
 * user, `node /app/dist/cli/main.js` as the entrypoint (the package's `iotload` bin), and a build
 * context (.dockerignore allow-list) that holds every file the COPY instructions name. The entry
 * file itself is run in test/integration/deploy/entrypoint.test.ts.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEPLOY, ROOT } from "../../helpers/deploy-manifests.js";

interface Instruction {
  cmd: string;
  args: string;
}

interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Instructions in order: comments dropped, `\` continuations joined (Dockerfile reference). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (pending === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    const full = `${pending}${line}`.trim();
    pending = "";
    const m = /^(\w+)\s+(.*)$/.exec(full);
    if (!m) throw new Error(`not an instruction: ${full}`);
    out.push({ cmd: (m[1] as string).toUpperCase(), args: m[2] as string });
  }
  return out;
}

function stages(instructions: readonly Instruction[]): Stage[] {
  const result: Stage[] = [];
  for (const i of instructions) {
    if (i.cmd === "FROM") {
      const [image, as, name] = i.args.split(/\s+/);
      result.push({
        image: image as string,
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: [],
      });
    } else {
      const current = result.at(-1);
      if (!current) throw new Error(`${i.cmd} before FROM`);
      current.instructions.push(i);
    }
  }
  return result;
}

const text = readFileSync(path.join(DEPLOY, "Dockerfile"), "utf8");
const all = parseDockerfile(text);
const [build, runtime, ...extra] = stages(all);
const runs = (s: Stage | undefined) =>
  (s?.instructions ?? []).filter((i) => i.cmd === "RUN").map((i) => i.args);

describe("deploy/Dockerfile", () => {
  it("has two stages, both on node:20-slim (Debian, glibc)", () => {
    expect(text.split("\n")[0]).toBe("# syntax=docker/dockerfile:1");
    expect(extra).toEqual([]);
    expect(build?.image).toBe("node:20-slim");
    expect(runtime?.image).toBe("node:20-slim");
    expect(build?.name).toBe("build");
  });

  it("builds dist/ in the build stage after installing every dependency", () => {
    const r = runs(build);
    const install = r.findIndex((a) => /^npm ci\b/.test(a));
    const compile = r.indexOf("npm run build");
    expect(install).toBeGreaterThanOrEqual(0);
    expect(compile).toBeGreaterThan(install);
    // `prepare` (tsc) must not run before src/ is copied.
    expect(r[install]).toContain("--ignore-scripts");
    expect(r[install]).not.toContain("--omit=dev");
    const copies = (build?.instructions ?? []).filter((i) => i.cmd === "COPY").map((i) => i.args);
    expect(copies).toContain("src ./src");
    // What `npm run build` compiles is what the entrypoint runs.
    const tsconfig = JSON.parse(readFileSync(path.join(ROOT, "tsconfig.build.json"), "utf8")) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: "src", outDir: "dist" });
    expect(existsSync(path.join(ROOT, "src/cli/main.ts"))).toBe(true);
  });

  it("installs production dependencies only, without lifecycle scripts, and checks aws-crt's addon loads", () => {
    const r = runs(runtime);
    const install = r.find((a) => /^npm ci\b/.test(a));
    expect(install).toMatch(/^npm ci --omit=dev --ignore-scripts\b/);
    expect(r.some((a) => a.includes(`require('aws-crt/dist/native/binding')`))).toBe(true);
    expect(r.some((a) => a.includes("node dist/cli/main.js --help"))).toBe(true);
    const instructions = runtime?.instructions ?? [];
    expect(instructions).toContainEqual({ cmd: "COPY", args: "--from=build /src/dist ./dist" });
    expect(instructions).toContainEqual({ cmd: "ENV", args: "NODE_ENV=production" });
    // The WORKDIR in force at that COPY is /app, so dist/ lands at /app/dist.
    const at = instructions.findIndex((i) => i.args === "--from=build /src/dist ./dist");
    expect(instructions.slice(0, at).findLast((i) => i.cmd === "WORKDIR")?.args).toBe("/app");
    expect((build?.instructions ?? []).findLast((i) => i.cmd === "WORKDIR")?.args).toBe("/src");
  });

  it("aws-crt ships the glibc addons in its npm package, so --ignore-scripts loses nothing", () => {
    for (const arch of ["x64", "arm64"]) {
      const addon = path.join(ROOT, `node_modules/aws-crt/dist/bin/linux-${arch}-glibc/aws-crt-nodejs.node`);
      expect(existsSync(addon), addon).toBe(true);
    }
    // Its install script only rebuilds when the addon is missing (then it would need cmake).
    const install = readFileSync(path.join(ROOT, "node_modules/aws-crt/scripts/install.js"), "utf8");
    expect(install).toMatch(/existsSync\(binaryDir\)/);
  });

  it("runs as a numeric non-root user with `node /app/dist/cli/main.js` (the iotload bin) as entrypoint", () => {
    const instructions = runtime?.instructions ?? [];
    const user = instructions.findLast((i) => i.cmd === "USER")?.args;
    const m = /^(\d+):(\d+)$/.exec(user ?? "");
    expect(m, `USER ${user} must be numeric uid:gid (runAsNonRoot can only check numbers)`).not.toBeNull();
    expect(Number(m?.[1])).toBeGreaterThan(0);
    const entry = instructions.filter((i) => i.cmd === "ENTRYPOINT");
    expect(entry).toHaveLength(1);
    expect(instructions.findIndex((i) => i.cmd === "USER")).toBeLessThan(
      instructions.indexOf(entry[0] as Instruction),
    );
    // Exec form (JSON): node is PID 1 and receives SIGTERM itself.
    const argv = JSON.parse(entry[0]?.args ?? "") as string[];
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      bin: { iotload: string };
    };
    expect(argv).toEqual(["node", `/app/${pkg.bin.iotload}`]);
    expect(instructions.findLast((i) => i.cmd === "WORKDIR")?.args).toBe("/work");
    expect(runs(runtime).some((a) => /mkdir -p \/scenarios \/work/.test(a))).toBe(true);
  });

  it("copies only files that exist and that .dockerignore lets into the build context", () => {
    const ignore = readFileSync(path.join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));
    // An allow-list: everything out, then named paths back in.
    expect(ignore[0]).toBe("*");
    const allowed = ignore.slice(1).map((l) => {
      expect(l.startsWith("!"), `${l}: only re-includes after '*'`).toBe(true);
      return l.slice(1).replace(/\/$/, "");
    });
    for (const never of ["node_modules", "dist", "reports", ".git"]) expect(allowed).not.toContain(never);
    const sources = all
      .filter((i) => i.cmd === "COPY" && !i.args.startsWith("--from"))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const s of sources) {
      expect(existsSync(path.join(ROOT, s)), `${s} exists`).toBe(true);
      expect(allowed, `${s} is in the build context`).toContain(s);
    }
  });
});
