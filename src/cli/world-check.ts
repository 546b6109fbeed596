import { loadWorld, type World } from "../emulator/index.js";
import { errorMessage, UserError } from "../lib/errors.js";
import { localWorldPath, worldFindings } from "../run/targets/local-world.js";
import { type Diagnostic, formatPath, type LoadedScenario, type RunPlan } from "../scenario/index.js";

/**
 * A local target's world file, checked by `validate` and before `run` starts any load
 * (run/targets/local-world.ts): its problems as diagnostics at their place in the scenario file —
 * an unreadable or invalid world at `target.world`, errors and warnings about the run's traffic where
 * the scenario sets it. Empty for other targets and the default world.
 */
export async function worldProblems(loaded: LoadedScenario, plan: RunPlan): Promise<Diagnostic[]> {
  const path = localWorldPath(plan);
  if (path === undefined) return [];
  const at = (p: (string | number)[]) => ({ file: loaded.file, ...loaded.locate(p), path: formatPath(p) });
  let world: World;
  try {
    world = await loadWorld(path);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    // The world loader lists its problems one per line; one paragraph here.
    const message = errorMessage(error)
      .replace(/:?\n\s*-\s*/g, ": ")
      .replace(/\n\s*/g, " ");
    return [{ severity: "error", ...at(["target", "world"]), message }];
  }
  return worldFindings(world, plan).map((f) => ({
    severity: f.severity,
    ...at(f.path),
    message: f.message,
    got: f.got,
    allowed: f.allowed,
  }));
}
