import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, onTestFinished } from "vitest";
import { resolveSource, type SharedFilePaths } from "../../../src/credentials/index.js";
import { UserError } from "../../../src/lib/errors.js";

const ROLE = "arn:aws:iam::222222222222:role/iot-load-test";

/** The reference setup's two files (docs/architecture.md §0), in a temp dir. */
function referenceFiles(): SharedFilePaths {
  const dir = mkdtempSync(join(tmpdir(), "iotload-src-"));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const credentialsFile = join(dir, "credentials");
  const configFile = join(dir, "config");
  writeFileSync(
    credentialsFile,
    "[switch]\naws_access_key_id = AKIAREFERENCE0000001\naws_secret_access_key = reference-secret-key-000000000\n",
  );
  writeFileSync(
    configFile,
    `[profile target]\nrole_arn = ${ROLE}\nsource_profile = switch\nregion = ap-northeast-1\nexternal_id = ext-1\nduration_seconds = 1800\n` +
      "[profile other]\nrole_arn = arn:aws:iam::333333333333:role/elsewhere\nsource_profile = switch\n",
  );
  return { credentialsFile, configFile };
}

describe("resolveSource", () => {
  it("static keys: a provider returning them, described without the secret", async () => {
    const s = await resolveSource(
      { static: { accessKeyId: "AKIASTATIC0000001234", secretAccessKey: "static-secret-value-0000" } },
      ROLE,
    );
    expect(await s.provider()).toEqual({
      accessKeyId: "AKIASTATIC0000001234",
      secretAccessKey: "static-secret-value-0000",
    });
    expect(s.description).toBe("static access key …1234");
  });

  it("the source profile `switch` yields account A's keys", async () => {
    const files = referenceFiles();
    const s = await resolveSource({ profile: "switch" }, ROLE, files);
    expect(s.description).toBe('profile "switch"');
    expect(await s.provider()).toMatchObject({ accessKeyId: "AKIAREFERENCE0000001" });
  });

  it("the role profile `target` of the same role is unwrapped to its source_profile (no double AssumeRole)", async () => {
    const files = referenceFiles();
    const s = await resolveSource({ profile: "target" }, ROLE, files);
    expect(s.description).toContain('profile "switch"');
    expect(s.description).toContain('"target"');
    // Resolving does not call STS: the keys are switch's long-term keys.
    expect(await s.provider()).toMatchObject({ accessKeyId: "AKIAREFERENCE0000001" });
  });

  it("a role profile for another role is kept as is (deliberate role chaining)", async () => {
    const s = await resolveSource({ profile: "other" }, ROLE, referenceFiles());
    expect(s.description).toBe('profile "other"');
  });

  it("both a profile and static keys is a usage error", async () => {
    await expect(
      resolveSource({ profile: "switch", static: { accessKeyId: "AKIAX", secretAccessKey: "y" } }, ROLE),
    ).rejects.toThrow(UserError);
  });
});
